import AccordCrypto
import AccordModel

/// `people.txt` of an evidence bundle: who made each change, as its author node signed it
/// (`Attribution`), and each approval its approver's passkey signed (`PasskeySignature`) —
/// written again by `verify.sh` from the signed statements in `people/` and `passkeys/`.
extension EvidenceText {
    static func attribution(_ attribution: Attribution, sequence: Int64, author: NodeID) -> String {
        let actor = attribution.actor
        let kind =
            switch actor.kind {
            case .person: "person"
            case .localUser: "local user"
            case .breakGlass: "break-glass token"
            }
        return "change \(sequence) made by \(kind) \(quoted(actor.id)), name \(optional(actor.name, quoted)), "
            + "e-mail \(optional(actor.email, quoted)), through \(node(author))\n"
    }

    static func passkey(_ signature: PasskeySignature, sequence: Int64) -> String {
        let credential = signature.credential
        return "change \(sequence) approval signed by the passkey of \(quoted(signature.person)), credential \(HexEncoding.encode(credential.id)), "
            + "registered \(time(credential.registeredAt)), relying party \(quoted(credential.relyingParty)), origin \(quoted(credential.origin))\n"
    }
}
