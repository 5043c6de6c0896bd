import AccordAdminAPI
import AccordPeople
import Foundation

/// The console's pages, rendered from the admin API's views (so the console shows what
/// `accordctl` shows, from the same code). Every string from data passes through `HTML`'s
/// escaping; the pages carry no inline script or style (the Content-Security-Policy forbids
/// both) and work without JavaScript, which only keeps them live.
enum ConsolePages {
    /// What every page of a session needs.
    struct Context {
        let node: String
        let csrf: String
        /// Who is signed in, and what they may do: controls they may not use are not shown (the
        /// server refuses them anyway).
        var person: Person = .breakGlass
        /// A one-line confirmation ("Approved.") or error, shown above the page.
        var notice: String?
        var error: String?
        /// The form `error` is about (its hidden `form` field): the error is also shown next to it.
        var errorField: String?
        /// What the session may do with passkeys; nil where the console cannot use them.
        var passkeys: PasskeyControls?
    }

    static func layout(_ title: String, _ context: Context?, events: String? = nil, _ body: HTML) -> HTML {
        let navigation: HTML =
            if let context {
                """
                <header><nav><a href="/">Overview</a> <a href="/agreements">Agreements</a> <a href="/conflicts">Conflicts</a> <a href="/passkeys">Passkeys</a> <a href="/node">Node</a></nav>\
                <span class="node">\(context.node) <span id="live" class="live" hidden>live</span></span>\
                <span id="person" class="person">\(context.person.displayName) <span class="meta">(\(context.person.roles.description))</span></span>\
                <form method="post" action="/logout" class="inline">\(csrfField(context))<button>Log out</button></form></header>
                """
            } else {
                ""
            }
        let banners: HTML =
            (context?.notice.map { "<p class=\"notice\" role=\"status\">\($0)</p>" as HTML } ?? "")
            + (context?.error.map { "<p class=\"error\" role=\"alert\">\($0)</p>" as HTML } ?? "")
        let eventsAttribute = events.map { HTML.attribute("data-events", $0) } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Accord</title><link rel="stylesheet" href="/static/console.css"><script src="/static/console.js" defer></script></head>
            <body\(eventsAttribute)>\(navigation)<main id="main">\(banners)\(body)</main></body></html>

            """
    }

    static func csrfField(_ context: Context) -> HTML { "<input type=\"hidden\" name=\"csrf\"\(HTML.attribute("value", context.csrf))>" }

    static func login(error: String?, provider: Bool) -> HTML {
        let signIn: HTML =
            provider
            ? """
            <p><a class="button" id="sign-in" href="/login/start">Sign in with your organisation's account</a></p>
            <h2>Break-glass</h2><p class="hint">Operators only: a one-time token signs in as admin, and the log says so.</p>
            """
            : ""
        return layout("Log in", nil, """
            <h1>Accord console</h1>
            \(error.map { "<p class=\"error\" role=\"alert\">\($0)</p>" as HTML } ?? "")
            \(signIn)
            <form method="post" action="/login" class="login">
            <label for="token">Login token</label>
            <input id="token" name="token" type="password" required autofocus>
            <p class="hint">Print one on the node with <code>accordctl console-token</code>; each token opens one session.</p>
            <button type="submit">Log in</button></form>
            """)
    }

    /// After a sign-in through the provider: on to the overview (the refresh is a same-site
    /// navigation, which carries the new session cookie).
    static func signedIn(_ person: Person) -> HTML {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/">
        <title>Signed in · Accord</title><link rel="stylesheet" href="/static/console.css"></head>
        <body><main id="main"><p>Signed in as \(person.displayName). <a href="/">Continue to the console</a>.</p></main></body></html>

        """
    }

    // MARK: - The node

    /// The node's technical page, for operators: certificates, revocation lists, partner nodes
    /// and why one is not in sync.
    static func node(_ status: NodeStatus, _ context: Context) -> HTML {
        let certificate = status.certificate.map { "\($0.notAfter) (\(Int($0.daysLeft)) days left)" } ?? "unknown"
        let warnings: [HTML] = status.warnings.map { "<li>\($0)</li>" }
        let revocationLists: [HTML] = (status.revocationLists ?? []).map { list in
            "<dt>Revocation list</dt><dd class=\"\(list.expired ? "bad" : "ok")\">\(list.issuer): \(list.expired ? "expired" : "next update") \(list.nextUpdate ?? "none")</dd>"
        }
        let peers: [HTML] = status.peers.map { peer in
            let lastReconcile: HTML = peer.lastReconcile.map {
                "\($0.completedAt): \($0.differences) difference(s)\($0.clean ? "" : ", not clean")"
            } ?? "never"
            let rejection: HTML = peer.lastRejection.map { "\($0.code): \($0.message) (\($0.at))" } ?? "none"
            let session: HTML =
                if let revoked = peer.certificate?.revokedAt {
                    "<td class=\"bad\">certificate revoked at \(revoked)</td>"
                } else if peer.connected {
                    "<td class=\"ok\">connected\(peer.direction.map { " (\($0))" } ?? "")</td>"
                } else {
                    "<td class=\"bad\">not connected\(peer.lastProblem.map { problem -> HTML in "<br><span class=\"problem\">\(problemText(problem))</span>" } ?? "")</td>"
                }
            return """
                <tr><td>\(peer.node ?? peer.organisation)</td>\
                \(session)\
                <td>\(peer.lastContact ?? "never")</td><td>\(lastReconcile)</td>\
                <td>\(peer.changesTheyLack)</td><td>\(peer.differencesAtLastReconcile.map(String.init) ?? "—")</td>\
                <td>\(peer.batchesInFlight) batch(es), \(peer.pendingRepairs) repair(s)</td>\
                <td>\(rejection)</td><td>\(peer.certificate?.notAfter ?? "—")</td></tr>
                """
        }
        return layout("Node", context, events: "/events", """
            <h1>Node \(status.node)</h1>
            <dl class="facts"><dt>Organisation</dt><dd>\(status.organisation)</dd><dt>Version</dt><dd>\(status.version)</dd>\
            <dt>Listening</dt><dd>\(status.listen)</dd><dt>Started</dt><dd>\(status.startedAt)</dd>\
            <dt>Certificate expires</dt><dd id="certificate">\(certificate)</dd>\
            \(revocationLists)\
            <dt>Deadlines</dt><dd id="deadlines">\(status.commitmentsOverdue ?? 0) commitment(s) overdue, \(status.agreementsExpiringSoon ?? 0) agreement(s) expiring within 30 days</dd>\
            <dt>Agreements</dt><dd>\(status.agreements)</dd><dt>Changes</dt><dd>\(status.changes) (\(status.held) held, \(status.rejected) rejected)</dd></dl>
            \(warnings.isEmpty ? "" : "<h2>Warnings</h2><ul class=\"warnings\">\(warnings)</ul>" as HTML)
            <h2>Partner nodes</h2>
            <p class="hint">Why not in sync: what the partner has not acknowledged yet, what the last reconciliation found, and the last change it refused.</p>
            <table id="peers"><thead><tr><th>Node</th><th>Session</th><th>Last contact</th><th>Last reconcile</th>\
            <th>Changes they lack</th><th>Differences found</th><th>In flight</th><th>Last rejection</th><th>Certificate until</th></tr></thead>
            <tbody>\(peers)</tbody></table>
            """)
    }

    /// Why a peer is not connected, in words.
    static func problemText(_ problem: ConnectionProblemView) -> String {
        "\(problem.whose) (\(problem.direction), \(problem.at)): \(problem.reason): \(problem.message)"
    }

    /// The latest changes an agreement page lists: a page stays of bounded size however long
    /// the history grows.
    static let historyShown = 200

    static let frameworkPoints: [(key: String, label: String)] = [
        ("valueAlignment", "Value alignment"), ("technicalFit", "Technical fit"), ("serviceCoverage", "Service coverage"),
        ("dataProtection", "Data protection"), ("returnMechanism", "Return mechanism"),
    ]

    static func conflicts(_ list: [AgreementConflicts], _ context: Context) -> HTML {
        let sections: [HTML] = list.map { entry in
            let rows: [HTML] = entry.conflicts.map { conflict in
                let overruled = conflict.overruled.map { "\($0.value) (\($0.author))" }.joined(separator: "; ")
                return "<tr><td>\(HistoryWords([]).field(conflict.field))</td><td>\(conflict.winner.value) (\(conflict.winner.author))</td><td>\(overruled)</td></tr>"
            }
            return """
                <h2><a\(HTML.attribute("href", "/agreements/\(entry.agreement)#conflicts"))>\(entry.title ?? entry.agreement)</a></h2>
                <table><thead><tr><th>Field</th><th>Winning value</th><th>Overruled</th></tr></thead><tbody>\(rows)</tbody></table>
                """
        }
        return layout("Conflicts", context, events: "/events", """
            <h1>Open conflicts</h1>
            <p class="hint">Concurrent edits of one field: every node chose the same winner; the others are kept here until someone writes the field again — on the agreement's page, keep one of the values or write another.</p>
            \(sections.isEmpty ? "<p>None.</p>" as HTML : sections.reduce("" as HTML, +))
            """)
    }

    static func problem(_ title: String, _ message: String, _ context: Context?) -> HTML {
        layout(title, context, "<h1>\(title)</h1><p>\(message)</p>")
    }
}
