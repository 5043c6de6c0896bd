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
        /// What the session may do with passkeys; nil where the console cannot use them.
        var passkeys: PasskeyControls?
    }

    static func layout(_ title: String, _ context: Context?, events: String? = nil, _ body: HTML) -> HTML {
        let navigation: HTML =
            if let context {
                """
                <header><nav><a href="/">Overview</a> <a href="/agreements">Agreements</a> <a href="/conflicts">Conflicts</a> <a href="/passkeys">Passkeys</a></nav>\
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
            <input id="token" name="token" type="password" autocomplete="off" required autofocus>
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

    // MARK: - Overview

    static func overview(_ status: NodeStatus, _ context: Context) -> HTML {
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
        return layout("Overview", context, events: "/events", """
            <h1>\(status.node)</h1>
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

    // MARK: - Agreements

    struct ListFilter {
        var party = ""
        var status = ""
        var category = ""
        var search = ""
        /// 1-based; each page shows `pageSize` rows, so a node with 100,000 agreements still
        /// answers with a page of bounded size.
        var page = 1
        static let pageSize = 100

        /// The query of this filter on another page.
        func query(page: Int) -> String {
            var components = URLComponents()
            components.queryItems = [("q", search), ("party", party), ("status", status), ("category", category)]
                .filter { !$0.1.isEmpty }.map { URLQueryItem(name: $0.0, value: $0.1) } + [URLQueryItem(name: "page", value: "\(page)")]
            return "/agreements?" + (components.percentEncodedQuery ?? "").replacing("+", with: "%2B")
        }

        func matches(_ item: AgreementListItem) -> Bool {
            (category.isEmpty || item.category == category)
                && (search.isEmpty || (item.title ?? "").lowercased().contains(search.lowercased())
                    || item.reference?.lowercased() == search.lowercased())
        }
    }

    static func agreements(_ allItems: [AgreementListItem], _ filter: ListFilter, _ context: Context) -> HTML {
        let pages = max(1, (allItems.count + ListFilter.pageSize - 1) / ListFilter.pageSize)
        let page = min(max(1, filter.page), pages)
        let items = allItems.dropFirst((page - 1) * ListFilter.pageSize).prefix(ListFilter.pageSize)
        let pager: HTML =
            pages == 1
            ? ""
            : """
            <p class="pager">\(page > 1 ? "<a\(HTML.attribute("href", filter.query(page: page - 1))) rel=\"prev\">previous</a> " as HTML : "")\
            page \(page) of \(pages) (\(allItems.count) agreements)\
            \(page < pages ? " <a\(HTML.attribute("href", filter.query(page: page + 1))) rel=\"next\">next</a>" as HTML : "")</p>
            """
        func options(_ values: [String], _ selected: String) -> HTML {
            (["" as String] + values).map { value -> HTML in
                "<option\(HTML.attribute("value", value))\(value == selected ? " selected" : "" as HTML)>\(value.isEmpty ? "any" : value)</option>"
            }.reduce("" as HTML, +)
        }
        let rows: [HTML] = items.map { item in
            """
            <tr><td><a\(HTML.attribute("href", "/agreements/\(item.id)"))>\(item.title ?? "(untitled)")</a></td>\
            <td>\(item.category ?? "—")</td><td>\(item.parties.joined(separator: ", "))</td>\
            <td><span class="status \(item.status)">\(item.status)</span></td><td>\(item.changes)</td><td>\(item.conflicts)</td></tr>
            """
        }
        return layout("Agreements", context, events: "/events", """
            <h1>Agreements</h1>
            <form method="get" action="/agreements" class="filters">
            <label>Title <input name="q"\(HTML.attribute("value", filter.search))></label>
            <label>Party <input name="party"\(HTML.attribute("value", filter.party))></label>
            <label>Status <select name="status">\(options(["draft", "proposed", "active", "expired", "terminated"], filter.status))</select></label>
            <label>Category <select name="category">\(options(["technicalResources", "fullSupport", "financialSupport"], filter.category))</select></label>
            <button>Filter</button></form>
            <table id="agreements"><thead><tr><th>Title</th><th>Category</th><th>Parties</th><th>Status</th><th>Changes</th><th>Conflicts</th></tr></thead>
            <tbody>\(rows)</tbody></table>
            \(pager)
            \(items.isEmpty ? "<p>No agreement matches.</p>" as HTML : "")
            """)
    }

    /// The latest changes an agreement page lists: a page stays of bounded size however long
    /// the history grows.
    static let historyShown = 200

    static let frameworkPoints: [(key: String, label: String)] = [
        ("valueAlignment", "Value alignment"), ("technicalFit", "Technical fit"), ("serviceCoverage", "Service coverage"),
        ("dataProtection", "Data protection"), ("returnMechanism", "Return mechanism"),
    ]

    /// - Parameter challenge: what the approver's passkey signs to approve the current terms.
    static func agreement(_ view: AgreementView, history: [HistoryItem], organisation: String, challenge: [UInt8], _ context: Context) -> HTML {
        let base = "/agreements/\(view.id)"
        let framework: [HTML] = frameworkPoints.map { point in
            "<dt>\(point.label)</dt><dd>\(view.framework[point.key] ?? "—")</dd>"
        }
        let commitments: [HTML] = view.commitments.map { commitment in
            let actions: HTML =
                commitment.state == "open" && context.person.roles.grants(.editor)
                ? ["fulfil", "waive"].map { action -> HTML in
                    """
                    <form method="post"\(HTML.attribute("action", "\(base)/commitments/\(commitment.id)/\(action)")) class="inline">\
                    \(csrfField(context))<button\(HTML.attribute("name", action))>\(action == "fulfil" ? "Mark fulfilled" : "Waive")</button></form>
                    """
                }.reduce("" as HTML, +)
                : ""
            return """
                <tr\(HTML.attribute("data-commitment", commitment.id))\(HTML.attribute("title", "commitment \(commitment.id)"))><td>\(commitment.by ?? "—")</td><td>\(commitment.kind ?? "—")</td>\
                <td>\(commitment.description ?? "—")</td><td>\(commitment.dueDate ?? "—")</td>\
                <td class="state">\(commitment.state)</td><td>\(actions)</td></tr>
                """
        }
        let approvals: [HTML] = view.approvals.map { approval in
            """
            <tr><td>\(approval.organisation)</td><td class="\(approval.fresh ? "ok" : "bad")">\(approval.fresh ? "fresh" : "stale")</td>\
            <td>\(approval.by)</td><td class="passkey">\(approval.passkey ?? "not signed by a person")</td><td>\(approval.at)</td>\
            <td><code>\(String(approval.termsHash.prefix(16)))…</code></td></tr>
            """
        }
        let ownApproval = view.approvals.first { $0.organisation == organisation }
        let canApprove = view.parties.contains(organisation) && view.termination == nil && ownApproval?.fresh != true
            && context.person.roles.grants(.approver)
        let approveForm: HTML =
            canApprove ? approveForm(action: "\(base)/approve", termsHash: view.termsHash, challenge: challenge, organisation: organisation, context) : ""
        let notes: [HTML] = view.notes.map { "<li><span class=\"meta\">\($0.by), \($0.at)</span> \($0.text)</li>" }
        let conflicts: [HTML] = view.conflicts.map { conflict in
            let overruled: [HTML] = conflict.overruled.map { "<li>\($0.value) <span class=\"meta\">(\($0.author), \($0.at))</span></li>" }
            return """
                <tr><td>\(conflict.field)</td><td>\(conflict.winner.value) <span class="meta">(\(conflict.winner.author), \(conflict.winner.at))</span></td>\
                <td><ul>\(overruled)</ul></td></tr>
                """
        }
        let delivery: [HTML] = view.delivery.map {
            "<tr><td>\($0.organisation)</td><td>\($0.node ?? "no node met yet")</td><td class=\"\($0.acknowledged ? "ok" : "bad")\">\($0.acknowledged ? "has every change" : "not yet")</td></tr>"
        }
        let shownHistory = history.suffix(historyShown)
        let earlier: HTML =
            history.count > historyShown
            ? "<p class=\"hint\">… and \(history.count - historyShown) earlier change(s): <code>accordctl agreements history \(view.id)</code> lists them all.</p>"
            : ""
        let timeline: [HTML] = shownHistory.reversed().map { item in
            let edits: [HTML] = item.edits.map { "<li>\($0)</li>" }
            return "<li><span class=\"meta\">#\(Int(item.sequence)) \(item.at) by \(item.by)</span><ul>\(edits)</ul></li>"
        }
        let held: [HTML] = view.held.map { "<li><code>\(String($0.change.prefix(16)))…</code> \($0.reason)</li>" }
        let rejected: [HTML] = view.rejected.map { "<li><code>\(String($0.change.prefix(16)))…</code> \($0.code): \($0.message) (\($0.at))</li>" }
        let termination: HTML = view.termination.map {
            "<h2>Termination</h2><p>Terminated by \($0.by) on \($0.at): \($0.reason)</p>"
        } ?? ""
        return layout(view.title ?? "Agreement", context, events: "/events?agreement=\(view.id)", """
            <h1 id="title">\(view.title ?? "(untitled)")</h1>
            <p><span id="status" class="status \(view.status)">\(view.status)</span></p>
            <dl class="facts"><dt>Category</dt><dd>\(view.category ?? "—")</dd><dt>Parties</dt><dd id="parties">\(view.parties.joined(separator: ", "))</dd>\
            <dt>Term</dt><dd>\(view.effectiveFrom ?? "open") to \(view.expiresOn ?? "open-ended")</dd>\
            <dt>Terms hash</dt><dd><code id="terms-hash">\(view.termsHash)</code></dd><dt>Changes</dt><dd>\(view.changes)</dd>\
            <dt>Id</dt><dd><code>\(view.id)</code></dd>\(view.reference.map { "<dt>Reference</dt><dd id=\"reference\">\($0)</dd>" as HTML } ?? "")<dt>Heads</dt><dd><code>\(view.heads.map { String($0.prefix(16)) + "…" }.joined(separator: " "))</code></dd></dl>
            <h2>Framework</h2><dl class="framework">\(framework)</dl>
            <h2>Commitments</h2>
            <table id="commitments"><thead><tr><th>By</th><th>Kind</th><th>Description</th><th>Due</th><th>State</th><th></th></tr></thead><tbody>\(commitments)</tbody></table>
            <h2>Approvals</h2>
            <table id="approvals"><thead><tr><th>Party</th><th>Covers the terms</th><th>By</th><th>Signed by a person</th><th>When</th><th>Over terms</th></tr></thead><tbody>\(approvals)</tbody></table>
            \(approveForm)
            <h2>Notes</h2><ul id="notes">\(notes)</ul>
            \(context.person.roles.grants(.editor) ? """
            <form method="post"\(HTML.attribute("action", "\(base)/notes")) id="add-note">\(csrfField(context))\
            <label for="note">Add a note</label> <input id="note" name="text" required maxlength="4096"> <button>Add note</button></form>
            """ as HTML : "")
            \(termination)
            <h2>Open conflicts</h2>
            \(conflicts.isEmpty ? "<p>None.</p>" as HTML : "<table id=\"conflicts\"><thead><tr><th>Field</th><th>Winning value</th><th>Overruled</th></tr></thead><tbody>\(conflicts)</tbody></table>" as HTML)
            <h2>Delivery</h2>
            <table id="delivery"><thead><tr><th>Party</th><th>Node</th><th>This node's changes</th></tr></thead><tbody>\(delivery)</tbody></table>
            \(held.isEmpty ? "" : "<h2>Held changes</h2><ul>\(held)</ul>" as HTML)
            \(rejected.isEmpty ? "" : "<h2>Rejected changes</h2><ul>\(rejected)</ul>" as HTML)
            <h2>History</h2><ol id="history" class="timeline">\(timeline)</ol>\(earlier)
            """)
    }

    static func conflicts(_ list: [AgreementConflicts], _ context: Context) -> HTML {
        let sections: [HTML] = list.map { entry in
            let rows: [HTML] = entry.conflicts.map { conflict in
                let overruled = conflict.overruled.map { "\($0.value) (\($0.author))" }.joined(separator: "; ")
                return "<tr><td>\(conflict.field)</td><td>\(conflict.winner.value) (\(conflict.winner.author))</td><td>\(overruled)</td></tr>"
            }
            return """
                <h2><a\(HTML.attribute("href", "/agreements/\(entry.agreement)"))>\(entry.title ?? entry.agreement)</a></h2>
                <table><thead><tr><th>Field</th><th>Winning value</th><th>Overruled</th></tr></thead><tbody>\(rows)</tbody></table>
                """
        }
        return layout("Conflicts", context, events: "/events", """
            <h1>Open conflicts</h1>
            <p class="hint">Concurrent edits of one field: every node chose the same winner; the others are kept here until someone writes the field again.</p>
            \(sections.isEmpty ? "<p>None.</p>" as HTML : sections.reduce("" as HTML, +))
            """)
    }

    static func problem(_ title: String, _ message: String, _ context: Context?) -> HTML {
        layout(title, context, "<h1>\(title)</h1><p>\(message)</p>")
    }
}
