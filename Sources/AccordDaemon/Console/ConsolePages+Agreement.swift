import AccordAdminAPI
import AccordModel
import AccordPeople
import AccordStore
import Foundation

/// The agreement page, where people read an agreement and work on it: every party's approval
/// state and what changed since each, the terms with their warnings, the forms that change them,
/// and the history in words. Each form is offered only to those who may use it, and only where
/// this organisation may act (the server refuses the others anyway).
extension ConsolePages {
    /// What the agreement page shows.
    struct AgreementPage {
        let view: AgreementView
        let entries: [HistoryEntry]
        /// This node's organisation.
        let organisation: String
        /// What an approver's passkey signs to approve the current terms.
        let challenge: [UInt8]
        /// For each party whose approval covers earlier terms: what changed since.
        let sinceApproval: [String: [TermsDifferenceView.FieldChange]]
        /// Organisations that could be added as parties.
        let candidates: [String]
        let today: String
    }

    static func agreement(_ page: AgreementPage, _ context: Context) -> HTML {
        let view = page.view
        let base = "/agreements/\(view.id)"
        let roles = context.person.roles
        let isParty = view.parties.contains(page.organisation)
        let live = view.termination == nil && view.void == nil && view.status != "expired"
        let canEdit = roles.grants(.editor) && isParty && live
        let inverted = view.effectiveFrom.flatMap { from in view.expiresOn.map { from > $0 } } ?? false
        let overdue = view.commitments.filter { $0.state == "open" && ($0.dueDate.map { $0 < page.today } ?? false) }
        var warnings: [HTML] = []
        if inverted {
            warnings.append("<li id=\"inverted-term\">The term ends (\(ReadableTime.day(view.expiresOn ?? ""))) before it starts (\(ReadableTime.day(view.effectiveFrom ?? ""))): correct one of the dates.</li>")
        }
        if !overdue.isEmpty { warnings.append("<li id=\"overdue\">\(overdue.count) commitment(s) overdue.</li>") }
        if !view.conflicts.isEmpty { warnings.append("<li><a href=\"#conflicts\">\(view.conflicts.count) conflict(s)</a> to resolve.</li>") }

        return layout(view.title ?? "Agreement", context, events: "/events?agreement=\(view.id)", """
            <h1 id="title">\(view.title ?? "(untitled)")</h1>
            <p><span id="status" class="status \(view.status)">\(view.status)</span> <span class="meta">\(view.category ?? "no category") · id <code>\(view.id)</code>\
            \(view.reference.map { " · reference <span id=\"reference\">\($0)</span>" as HTML } ?? "")</span></p>
            \(warnings.isEmpty ? "" : "<div role=\"alert\"><ul class=\"warnings\">\(warnings)</ul></div>" as HTML)
            \(approvalSection(page, context, base: base))
            \(termsSection(page, context, base: base, canEdit: canEdit, inverted: inverted))
            \(commitmentsSection(page, context, base: base, canEdit: canEdit, canStep: roles.grants(.editor) && isParty && view.void == nil))
            \(conflictsSection(page, context, base: base, canEdit: canEdit))
            \(notesSection(view, context, base: base, canNote: roles.grants(.editor) && isParty))
            \(endSection(page, context, base: base, canEnd: roles.grants(.approver) && isParty))
            \(deliverySection(view))
            \(historySection(page))
            """)
    }

    // MARK: - Approvals

    private static func approvalSection(_ page: AgreementPage, _ context: Context, base: String) -> HTML {
        let view = page.view
        let byParty = Dictionary(view.approvals.map { ($0.organisation, $0) }, uniquingKeysWith: { first, _ in first })
        let rows: [HTML] = view.parties.map { party in
            guard let approval = byParty[party] else {
                return "<tr data-party=\"\(party)\"><td>\(party)</td><td class=\"bad\">not yet</td><td>—</td><td>—</td><td>\(removal(page, party, context, base: base))</td></tr>"
            }
            let changes = page.sinceApproval[party] ?? []
            let since: HTML =
                approval.fresh
                ? "covers the current terms"
                : "<details><summary>\(changes.count) change(s) since</summary>\(differenceList(changes))</details>"
            return """
                <tr\(HTML.attribute("data-party", party))><td>\(party)</td><td class="\(approval.fresh ? "ok" : "bad")">\(approval.fresh ? "approved" : "stale")</td>\
                <td>\(approval.by)<br><span class="meta passkey">\(approval.passkey ?? "not signed by a person")</span></td>\
                <td>\(ReadableTime.moment(approval.at))</td><td>\(since)</td></tr>
                """
        }
        let ownApproval = byParty[page.organisation]
        let canApprove = view.parties.contains(page.organisation) && view.termination == nil && view.void == nil && ownApproval?.fresh != true
            && context.person.roles.grants(.approver)
        var control: HTML = ""
        if canApprove {
            let ourChanges = ownApproval == nil ? nil : page.sinceApproval[page.organisation]
            let what: HTML = """
                <p id="approve-what">Approve these terms as \(page.organisation): “\(view.title ?? "(untitled)")”, \
                \(view.parties.joined(separator: ", ")), \(view.commitments.count) commitment(s), \
                from \(view.effectiveFrom.map(ReadableTime.day) ?? "an open start") to \(view.expiresOn.map(ReadableTime.day) ?? "no end").</p>
                \(ourChanges.map { "<p>Since \(page.organisation) last approved:</p>\(differenceList($0))" as HTML } ?? "")
                """
            control = what + approveForm(action: "\(base)/approve", termsHash: view.termsHash, challenge: page.challenge, organisation: page.organisation, context)
        }
        return """
            <h2>Approvals</h2>
            <table id="approvals"><thead><tr><th>Party</th><th>State</th><th>By</th><th>When</th><th>Since then</th></tr></thead><tbody>\(rows)</tbody></table>
            \(control)
            """
    }

    /// For a party that never approved (a misspelt or mistaken one): who agreed to remove it, and
    /// this organisation's consent — or, from the last party to consent, the removal (rule 8).
    private static func removal(_ page: AgreementPage, _ party: String, _ context: Context, base: String) -> HTML {
        let view = page.view
        let consenting = view.removalConsents?[party] ?? []
        let said: HTML = consenting.isEmpty ? "" : "<span class=\"meta\">removal agreed by \(consenting.joined(separator: ", "))</span> "
        // A removal must leave two parties (rule 8): in a two-party draft, void it instead.
        guard party != page.organisation, view.parties.contains(page.organisation), view.parties.count >= 3, view.termination == nil, view.void == nil,
            context.person.roles.grants(.editor), !consenting.contains(page.organisation)
        else { return said }
        let others = Set(view.parties).subtracting([party, page.organisation])
        let label = others.isSubset(of: Set(consenting)) ? "Remove \(party)" : "Agree to remove \(party)"
        return """
            \(said)<form method="post"\(HTML.attribute("action", "\(base)/parties/\(party)/remove")) class="inline">\(csrfField(context))\(formName("remove-\(party)"))\
            <button\(HTML.attribute("name", "remove-\(party)"))>\(label)</button>\(fieldError("remove-\(party)", context))</form>
            """
    }

    /// How the agreement ends: a void or a termination with the day it takes effect and who
    /// agreed; or the controls — void (the creator's draft, nobody approved), terminate, agree.
    private static func endSection(_ page: AgreementPage, _ context: Context, base: String, canEnd: Bool) -> HTML {
        let view = page.view
        if let void = view.void {
            return "<h2>Void</h2><p id=\"void\">Voided by \(void.by) on \(ReadableTime.moment(void.at)): \(void.reason)</p>"
        }
        if let termination = view.termination {
            let effect: HTML = view.terminatesOn.map { day in
                view.status == "terminating" ? " It takes effect on \(ReadableTime.day(day))." : " It took effect on \(ReadableTime.day(day))."
            } ?? ""
            let agreed = view.terminationAgreedBy ?? []
            let agree: HTML =
                canEnd && view.status == "terminating" && !agreed.contains(page.organisation)
                ? "<p>If \(page.organisation) agrees, and every party does, it ends at once. <a class=\"button\" id=\"terminate\"\(HTML.attribute("href", "\(base)/terminate"))>Agree to end it…</a></p>"
                : ""
            return """
                <h2>Termination</h2><p id="termination">Terminated by \(termination.by) on \(ReadableTime.moment(termination.at)): \(termination.reason).\(effect)\
                \(agreed.count > 1 ? " Agreed by \(agreed.joined(separator: ", "))." as HTML : "")</p>\(agree)
                """
        }
        guard canEnd, view.status != "expired" else { return "" }
        let notice: HTML = view.noticePeriod.map { " (with \($0) days' notice)" } ?? ""
        // Only the creator, and only while nobody ever approved (also a party since withdrawn): rule 7.
        let creator = page.entries.first { $0.change.isGenesis }?.change.author.organisation.rawValue
        let approvedEver = page.entries.contains { $0.change.edits.contains { if case .approve = $0 { true } else { false } } }
        let voidable = !approvedEver && creator == page.organisation
        let void: HTML =
            voidable
            ? """
            <form method="post"\(HTML.attribute("action", "\(base)/void")) class="inline" id="void-form">\(csrfField(context))\(formName("void"))\
            <label for="void-reason">Created by mistake?</label> <input id="void-reason" name="reason" maxlength="4096" placeholder="Why"> \
            <button>Void the draft</button>\(fieldError("void", context))</form>
            """
            : ""
        return """
            <h2>End the agreement</h2><p><a class="button" id="terminate"\(HTML.attribute("href", "\(base)/terminate"))>Terminate…</a>\(notice)</p>\(void)
            """
    }

    static func differenceList(_ changes: [TermsDifferenceView.FieldChange]) -> HTML {
        changes.isEmpty
            ? "<p class=\"hint\">No change to the terms.</p>"
            : "<ul class=\"diff\">\(changes.map { "<li\(HTML.attribute("data-field", $0.field))>\($0.description)</li>" as HTML })</ul>"
    }

    // MARK: - Terms

    private static func termsSection(_ page: AgreementPage, _ context: Context, base: String, canEdit: Bool, inverted: Bool) -> HTML {
        let view = page.view
        var rows: [HTML] = [
            termRow("title", "Title", view.title, base: base, context, canEdit: canEdit),
            termRow("category", "Category", view.category, base: base, context, canEdit: canEdit, choices: Category.allCases.map(\.name)),
            termRow("effectiveFrom", "Starts", view.effectiveFrom, base: base, context, canEdit: canEdit, date: true, warn: inverted),
            termRow("expiresOn", "Ends", view.expiresOn, base: base, context, canEdit: canEdit, date: true, warn: inverted),
            termRow("noticePeriod", "Notice (days)", view.noticePeriod.map(String.init), base: base, context, canEdit: canEdit),
        ]
        for point in frameworkPoints {
            rows.append(termRow("framework.\(point.key)", point.label, view.framework[point.key], base: base, context, canEdit: canEdit, long: true))
        }
        let addParty: HTML =
            canEdit && !page.candidates.isEmpty
            ? """
            <form method="post"\(HTML.attribute("action", "\(base)/parties")) class="inline" id="add-party">\(csrfField(context))\(formName("parties"))\
            <label for="new-party">Add a party</label> <select id="new-party" name="organisation">\
            \(page.candidates.map { "<option\(HTML.attribute("value", $0))>\($0)</option>" as HTML })</select> <button>Add</button>\(fieldError("parties", context))</form>
            """
            : ""
        return """
            <h2>Terms</h2>
            <table id="terms" class="terms"><tbody>\
            <tr><th scope="row">Parties</th><td id="parties">\(view.parties.joined(separator: ", "))</td><td>\(addParty)</td></tr>\(rows)</tbody></table>
            <p class="meta">Terms hash <code id="terms-hash">\(view.termsHash)</code> · \(view.changes) change(s)</p>
            """
    }

    /// One term: its value and, for editors, a form that writes it.
    private static func termRow(
        _ field: String, _ label: String, _ value: String?, base: String, _ context: Context, canEdit: Bool,
        choices: [String]? = nil, date: Bool = false, long: Bool = false, warn: Bool = false
    ) -> HTML {
        let shown: HTML = value.map { date ? "\(ReadableTime.day($0))" as HTML : "\($0)" } ?? "<span class=\"hint\">—</span>"
        guard canEdit else { return "<tr><th scope=\"row\">\(label)</th><td\(warn ? " class=\"bad\"" as HTML : "")>\(shown)</td><td></td></tr>" }
        let id = "edit-" + field.replacingOccurrences(of: ".", with: "-")
        let name = HTML.attribute("aria-label", "New \(label.lowercased())")
        let input: HTML =
            if let choices {
                "<select\(HTML.attribute("id", id))\(name) name=\"value\">\(choices.map { "<option\(HTML.attribute("value", $0))\($0 == value ? " selected" : "" as HTML)>\($0)</option>" as HTML })</select>"
            } else if date {
                "<input type=\"date\"\(HTML.attribute("id", id))\(name) name=\"value\"\(HTML.attribute("value", value ?? ""))>"
            } else if long {
                "<textarea\(HTML.attribute("id", id))\(name) name=\"value\" rows=\"2\" maxlength=\"4096\">\(value ?? "")</textarea>"
            } else {
                "<input\(HTML.attribute("id", id))\(name) name=\"value\" required maxlength=\"512\"\(HTML.attribute("value", value ?? ""))>"
            }
        return """
            <tr><th scope="row">\(label)</th><td\(warn ? " class=\"bad\"" as HTML : "")>\(shown)</td><td>\
            <form method="post"\(HTML.attribute("action", "\(base)/fields")) class="inline edit-field">\(csrfField(context))\(formName(field))\
            <input type="hidden" name="field"\(HTML.attribute("value", field))>\(input) <button>Save</button>\(fieldError(field, context))</form></td></tr>
            """
    }

    // MARK: - Conflicts, notes, delivery, history

    private static func conflictsSection(_ page: AgreementPage, _ context: Context, base: String, canEdit: Bool) -> HTML {
        guard !page.view.conflicts.isEmpty else { return "" }
        let words = HistoryWords(page.entries)
        let rows: [HTML] = page.view.conflicts.map { conflict in
            let writes = [conflict.winner] + conflict.overruled
            let choices: [HTML] = writes.enumerated().map { index, write in
                let choose: HTML =
                    canEdit
                    ? """
                     <form method="post"\(HTML.attribute("action", "\(base)/conflicts")) class="inline">\(csrfField(context))\(formName("conflict-\(conflict.field)"))\
                    <input type="hidden" name="field"\(HTML.attribute("value", conflict.field))><input type="hidden" name="value"\(HTML.attribute("value", write.value))>\
                    <button>Keep this value</button></form>
                    """
                    : ""
                return "<li>\(index == 0 ? "<strong>counts now:</strong> " as HTML : "")“\(write.value)” <span class=\"meta\">(\(write.author), \(ReadableTime.moment(write.at)))</span>\(choose)</li>"
            }
            let write: HTML =
                canEdit
                ? """
                <form method="post"\(HTML.attribute("action", "\(base)/conflicts")) class="inline">\(csrfField(context))\(formName("conflict-\(conflict.field)"))\
                <input type="hidden" name="field"\(HTML.attribute("value", conflict.field))>\
                <label\(HTML.attribute("for", "resolve-\(conflict.field)"))>Or write a value</label> \
                <input\(HTML.attribute("id", "resolve-\(conflict.field)")) name="value" required> <button>Resolve</button>\(fieldError("conflict-\(conflict.field)", context))</form>
                """
                : ""
            return "<tr\(HTML.attribute("data-field", conflict.field))><td>\(words.field(conflict.field))</td><td><ul>\(choices)</ul>\(write)</td></tr>"
        }
        return """
            <h2 id="conflicts">Conflicts</h2>
            <p class="hint">Two parties wrote the same field without seeing each other's write; one value counts until someone writes the field again.</p>
            <table id="conflicts-table"><thead><tr><th>Field</th><th>Values</th></tr></thead><tbody>\(rows)</tbody></table>
            """
    }

    private static func notesSection(_ view: AgreementView, _ context: Context, base: String, canNote: Bool) -> HTML {
        let notes: [HTML] = view.notes.map { "<li><span class=\"meta\">\($0.by), \(ReadableTime.moment($0.at))</span> \($0.text)</li>" }
        let form: HTML =
            canNote
            ? """
            <form method="post"\(HTML.attribute("action", "\(base)/notes")) id="add-note">\(csrfField(context))\(formName("notes"))\
            <label for="note">Add a note</label> <input id="note" name="text" required maxlength="4096"> <button>Add note</button>\(fieldError("notes", context))</form>
            """
            : ""
        return "<h2>Notes</h2><ul id=\"notes\">\(notes)</ul>\(view.notes.isEmpty ? "<p>None.</p>" as HTML : "")\(form)"
    }

    private static func deliverySection(_ view: AgreementView) -> HTML {
        let delivery: [HTML] = view.delivery.map {
            "<tr><td>\($0.organisation)</td><td>\($0.node ?? "no node met yet")</td><td class=\"\($0.acknowledged ? "ok" : "bad")\">\($0.acknowledged ? "has every change" : "not yet")</td></tr>"
        }
        let held: [HTML] = view.held.map { "<li><code>\(String($0.change.prefix(16)))…</code> \($0.reason)</li>" }
        let rejected: [HTML] = view.rejected.map { "<li><code>\(String($0.change.prefix(16)))…</code> \($0.code): \($0.message) (\(ReadableTime.moment($0.at)))</li>" }
        return """
            <details><summary>Delivery to the other parties</summary>
            <table id="delivery"><thead><tr><th>Party</th><th>Node</th><th>This node's changes</th></tr></thead><tbody>\(delivery)</tbody></table></details>
            \(held.isEmpty ? "" : "<h2>Held changes</h2><ul>\(held)</ul>" as HTML)
            \(rejected.isEmpty ? "" : "<h2>Rejected changes</h2><ul>\(rejected)</ul>" as HTML)
            """
    }

    private static func historySection(_ page: AgreementPage) -> HTML {
        let shown = page.entries.suffix(historyShown)
        let words = HistoryWords(page.entries)
        let groups = words.groups(Array(shown)) { entry in Views.by(entry.attribution?.actor, node: entry.change.author) }
        let items: [HTML] = groups.map { group in
            let numbers = group.sequences.count == 1 ? "change \(group.sequences.lowerBound)" : "changes \(group.sequences.lowerBound)–\(group.sequences.upperBound)"
            return """
                <li><span class="meta">\(group.by), \(ReadableTime.moment(Views.time(group.at))) · \(numbers)</span>\
                <ul>\(group.sentences.map { "<li>\($0)</li>" as HTML })</ul></li>
                """
        }
        let earlier: HTML =
            page.entries.count > historyShown
            ? "<p class=\"hint\">… and \(page.entries.count - historyShown) earlier change(s): <code>accordctl agreements history \(page.view.id)</code> lists them all.</p>"
            : ""
        return "<h2>History</h2><ul id=\"history\" class=\"timeline\">\(items)</ul>\(earlier)"
    }

    // MARK: - Form helpers

    /// Names the form, so a refusal is shown next to it (`fieldError`).
    static func formName(_ name: String) -> HTML { "<input type=\"hidden\" name=\"form\"\(HTML.attribute("value", name))>" }

    /// The refusal of the form named `name`, if this page shows one.
    static func fieldError(_ name: String, _ context: Context) -> HTML {
        guard context.errorField == name, let error = context.error else { return "" }
        return " <span class=\"error field-error\">\(error)</span>"
    }
}
