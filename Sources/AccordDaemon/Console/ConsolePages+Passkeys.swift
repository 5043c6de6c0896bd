import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordPeople
import AccordStore

/// The passkeys page, and the approve control that asks for the approver's passkey. The
/// WebAuthn calls are the console script's (`ConsoleAssets`): a form marked `data-passkey` is
/// sent only once the browser filled its hidden fields with what the authenticator returned.
extension ConsolePages {
    /// What a session's pages offer of passkeys.
    struct PasskeyControls {
        let relyingParty: String
        /// `[approvals] require_passkey`.
        let required: Bool
        /// False for a break-glass session: it is no person, and has no passkeys.
        let available: Bool
        let registered: [RegisteredPasskey]
    }

    static func passkeys(_ controls: PasskeyControls?, _ context: Context) -> HTML {
        guard let controls else {
            return layout("Passkeys", context, """
                <h1>Passkeys</h1><p>This console is reached at an IP address; passkeys need a host name. Set <code>[console] url</code> \
                to the name people use (for example <code>https://accord.example.com</code>).</p>
                """)
        }
        guard controls.available else {
            return layout("Passkeys", context, """
                <h1>Passkeys</h1><p>A break-glass sign-in is no person and has no passkeys. Sign in through your organisation's \
                account to register yours.</p>
                """)
        }
        let rows: [HTML] = controls.registered.map { passkey in
            let id = Base64URL.encode(passkey.credential.id)
            return """
                <tr\(HTML.attribute("data-credential", id))><td>\(passkey.name)</td><td>\(Views.time(passkey.credential.registeredAt))</td>\
                <td><code>\(String(id.prefix(16)))…</code></td><td><form method="post" action="/passkeys/remove" class="inline">\(csrfField(context))\
                <input type="hidden" name="credential"\(HTML.attribute("value", id))><button>Remove</button></form></td></tr>
                """
        }
        let person = context.person
        let userHandle = Base64URL.encode(SHA256Digest(hashing: Array("accord/user\n\(person.subject)".utf8)).bytes.prefix(16))
        return layout("Passkeys", context, """
            <h1>Passkeys</h1>
            <p>Your passkey signs your approvals yourself: partners and anyone holding the evidence bundle can check that you, \
            not only this node, approved the exact terms.\(controls.required ? " This organisation requires it for every approval." as HTML : "")</p>
            \(rows.isEmpty ? "<p id=\"no-passkeys\">You have no passkey here yet.</p>" as HTML : """
            <table id="passkeys"><thead><tr><th>Name</th><th>Registered</th><th>Credential</th><th></th></tr></thead><tbody>\(rows)</tbody></table>
            """ as HTML)
            <h2>Register a passkey</h2>
            <form method="post" action="/passkeys" id="register-passkey" data-passkey="register"\
            \(HTML.attribute("data-challenge", Base64URL.encode(ConsolePasskeys.registrationChallenge(csrf: context.csrf))))\
            \(HTML.attribute("data-rp", controls.relyingParty))\(HTML.attribute("data-user", userHandle))\
            \(HTML.attribute("data-user-name", person.email ?? person.subject))\(HTML.attribute("data-display-name", person.displayName))\
            \(HTML.attribute("data-exclude", controls.registered.map { Base64URL.encode($0.credential.id) }.joined(separator: " ")))>\
            \(csrfField(context))\(assertionFields(["authenticatorData", "clientDataJSON"]))\
            <label for="passkey-name">Name</label> <input id="passkey-name" name="name" required maxlength="64" placeholder="laptop"> \
            <button>Register a passkey</button><p class="error" role="alert" data-passkey-error hidden></p></form>
            """)
    }

    /// The approve control: with the approver's passkey when they have one (or must), else the
    /// node's signature alone; nothing when they must and have none.
    static func approveForm(action: String, termsHash: String, challenge: [UInt8], organisation: String, _ context: Context) -> HTML {
        let hint: HTML = "<span class=\"hint\">terms <code>\(String(termsHash.prefix(16)))…</code></span>"
        guard let passkeys = context.passkeys, passkeys.available, !passkeys.registered.isEmpty else {
            if context.passkeys?.required == true {
                return """
                    <p id="approve-needs-passkey" class="hint">\(organisation) approves with the approver's own passkey: \
                    <a href="/passkeys">register yours</a> to approve.</p>
                    """
            }
            return """
                <form method="post"\(HTML.attribute("action", action)) id="approve">\(csrfField(context))\
                <input type="hidden" name="termsHash"\(HTML.attribute("value", termsHash))>\
                <button>Approve these terms as \(organisation)</button> \(hint)</form>
                """
        }
        return """
            <form method="post"\(HTML.attribute("action", action)) id="approve" data-passkey="approve"\
            \(HTML.attribute("data-challenge", Base64URL.encode(challenge)))\(HTML.attribute("data-rp", passkeys.relyingParty))\
            \(HTML.attribute("data-credentials", passkeys.registered.map { Base64URL.encode($0.credential.id) }.joined(separator: " ")))>\
            \(csrfField(context))<input type="hidden" name="termsHash"\(HTML.attribute("value", termsHash))>\
            \(assertionFields(["credential", "authenticatorData", "clientDataJSON", "signature"]))\
            <button>Approve these terms as \(organisation) with your passkey</button> \(hint)\
            <p class="error" role="alert" data-passkey-error hidden></p></form>
            """
    }

    private static func assertionFields(_ names: [String]) -> HTML {
        names.map { "<input type=\"hidden\"\(HTML.attribute("name", $0)) value=\"\">" as HTML }.reduce("" as HTML, +)
    }
}
