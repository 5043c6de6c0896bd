import AccordAdminAPI
import AccordModel

/// The pages that are a form of their own: a new agreement, and the confirmation of a
/// termination, which states what it does before anything is signed.
extension ConsolePages {
    /// Rows for commitments on the new-agreement form (more are added on the agreement page).
    static let newCommitmentRows = 3

    /// What the new-agreement form was given, to show it again after a refusal.
    struct NewAgreementForm {
        var fields: [String: String] = [:]
        var parties: Set<String> = []
    }

    static func newAgreement(organisation: String, organisations: [String], form: NewAgreementForm, _ context: Context) -> HTML {
        let value = { (name: String) in form.fields[name] ?? "" }
        let parties: [HTML] = organisations.map { name in
            let id = "party-\(name)"
            let checked = form.parties.contains(name) || (form.parties.isEmpty && name == organisation)
            return "<label\(HTML.attribute("for", id))><input type=\"checkbox\" name=\"party\"\(HTML.attribute("id", id))\(HTML.attribute("value", name))\(checked ? " checked" : "" as HTML)> \(name)</label>"
        }
        let framework: [HTML] = frameworkPoints.map { point in
            let name = "framework.\(point.key)"
            return "<label\(HTML.attribute("for", name))>\(point.label)</label><textarea\(HTML.attribute("id", name))\(HTML.attribute("name", name)) rows=\"2\" maxlength=\"4096\">\(value(name))</textarea>"
        }
        let categories: [HTML] = Category.allCases.map { "<option\(HTML.attribute("value", $0.name))\(value("category") == $0.name ? " selected" : "" as HTML)>\($0.name)</option>" }
        let commitments: [HTML] = (0..<newCommitmentRows).map { row in
            let prefix = "commitment\(row)"
            func field(_ name: String) -> String { form.fields["\(prefix).\(name)"] ?? "" }
            return """
                <fieldset class="commitment-row"><legend>Commitment \(row + 1)</legend>\
                <label\(HTML.attribute("for", "\(prefix)-by"))>Owed by</label> <select\(HTML.attribute("id", "\(prefix)-by"))\(HTML.attribute("name", "\(prefix).by"))>\
                \(organisations.map { "<option\(HTML.attribute("value", $0))\(field("by") == $0 ? " selected" : "" as HTML)>\($0)</option>" as HTML })</select> \
                <label\(HTML.attribute("for", "\(prefix)-kind"))>Kind</label> <select\(HTML.attribute("id", "\(prefix)-kind"))\(HTML.attribute("name", "\(prefix).kind"))>\
                \(CommitmentKind.allCases.map { "<option\(HTML.attribute("value", $0.name))\(field("kind") == $0.name ? " selected" : "" as HTML)>\($0.name)</option>" as HTML })</select> \
                <label\(HTML.attribute("for", "\(prefix)-description"))>Description</label> \
                <input\(HTML.attribute("id", "\(prefix)-description"))\(HTML.attribute("name", "\(prefix).description")) maxlength="1024"\(HTML.attribute("value", field("description")))> \
                <label\(HTML.attribute("for", "\(prefix)-due"))>Due</label> \
                <input type="date"\(HTML.attribute("id", "\(prefix)-due"))\(HTML.attribute("name", "\(prefix).dueDate"))\(HTML.attribute("value", field("dueDate")))></fieldset>
                """
        }
        return layout("New agreement", context, """
            <h1>New agreement</h1>
            <form method="post" action="/agreements" id="new-agreement" class="stacked">\(csrfField(context))\(formName("new"))
            \(fieldError("new", context))
            <label for="title">Title</label><input id="title" name="title" required maxlength="512"\(HTML.attribute("value", value("title")))>
            <label for="category">Category</label><select id="category" name="category">\(categories)</select>
            <fieldset id="parties"><legend>Parties</legend>\(parties)</fieldset>
            <h2>Framework</h2>\(framework)
            <h2>Term</h2>
            <label for="effectiveFrom">Starts</label><input type="date" id="effectiveFrom" name="effectiveFrom"\(HTML.attribute("value", value("effectiveFrom")))>
            <label for="expiresOn">Ends</label><input type="date" id="expiresOn" name="expiresOn"\(HTML.attribute("value", value("expiresOn")))>
            <h2>Commitments</h2>\(commitments)
            <p><button>Create the agreement</button></p></form>
            """)
    }

    static func confirmTermination(_ view: AgreementView, organisation: String, _ context: Context) -> HTML {
        let base = "/agreements/\(view.id)"
        return layout("Terminate \(view.title ?? "agreement")", context, """
            <h1>Terminate “\(view.title ?? "(untitled)")”?</h1>
            <p id="consequence">This ends the agreement for every party (\(view.parties.joined(separator: ", "))), signed as \(organisation), \
            and cannot be undone: its terms can no longer be changed or approved. \(when(view)) \
            Commitments due before it ends can still be claimed and confirmed; notes can still be added.</p>
            <form method="post"\(HTML.attribute("action", "\(base)/terminate")) id="confirm-terminate" class="stacked">\(csrfField(context))\(formName("terminate"))
            <label for="reason">Reason (every party sees it)</label><textarea id="reason" name="reason" required rows="3" maxlength="4096"></textarea>
            \(fieldError("terminate", context))
            <p><button>Terminate the agreement</button> <a\(HTML.attribute("href", base))>Keep it</a></p></form>
            """)
    }

    /// When a termination given now would take effect (trust rule 9).
    private static func when(_ view: AgreementView) -> HTML {
        if view.termination != nil {
            return "Another party has given notice; once every party agrees, it ends at once."
        }
        guard let days = view.noticePeriod, days > 0 else { return "It takes effect at once." }
        return "The terms ask for \(days) days' notice: it takes effect then, or at once if every party agrees."
    }
}
