import AccordAdminAPI
import AccordModel
import Foundation

/// What the console's forms ask for, as the edits the admin API would make of the same request
/// (`EditRequests`): a form never gets a path of its own into the model, so the console and
/// `accordctl` are held to the same checks and rules.
enum ConsoleEditing {
    /// The edit a term form asks for: `field` as the agreement page names it, and the new value.
    static func setField(_ form: [String: String]) throws(AdminFailure) -> Edit {
        guard let field = form["field"], !field.isEmpty else { throw AdminFailure.badRequest("the form names no field") }
        return try EditRequests.setField(SetFieldRequest(field: field, value: form["value"] ?? ""))
    }

    /// The edits of a commitment form: all of `by`, `kind`, `description`, `dueDate` for a new
    /// one; for an existing one only those that differ from `current`.
    static func commitment(_ form: [String: String], id: String?, current: CommitmentView?) throws(AdminFailure) -> [Edit] {
        func changed(_ name: String, _ now: String?) -> String? {
            guard let value = form[name] else { return nil }
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            return trimmed == (now ?? "") ? nil : trimmed
        }
        // A schedule is written whole: when any of its fields changed, or for a new recurring one.
        let schedule = current?.schedule
        let scheduleChanged = changed("every", schedule?.every ?? "none") != nil || changed("from", schedule?.from) != nil
            || changed("until", schedule?.until) != nil
        let every = scheduleChanged ? form["every"].flatMap { $0.isEmpty ? nil : $0 } : nil
        let (from, until) = (form["from"].flatMap { $0.isEmpty ? nil : $0 }, form["until"].flatMap { $0.isEmpty ? nil : $0 })
        if let id {
            let request = CommitmentRequest(
                action: .update, commitment: id, by: changed("by", current?.by), kind: changed("kind", current?.kind),
                description: changed("description", current?.description), dueDate: changed("dueDate", current?.dueDate),
                amount: changed("amount", current?.amount), every: every, from: from, until: until
            )
            guard request.by != nil || request.kind != nil || request.description != nil || request.dueDate != nil || request.amount != nil
                || request.every != nil
            else {
                throw AdminFailure.badRequest("nothing was changed")
            }
            return try EditRequests.commitment(request).1
        }
        let description = (form["description"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !description.isEmpty else { throw AdminFailure.badRequest("a commitment needs a description") }
        let due = (form["dueDate"] ?? "").isEmpty ? nil : form["dueDate"]
        let amount = (form["amount"] ?? "").trimmingCharacters(in: .whitespaces)
        return try EditRequests.commitment(CommitmentRequest(
            action: .add, by: form["by"], kind: form["kind"], description: description, dueDate: due, amount: amount.isEmpty ? nil : amount,
            every: every == "none" ? nil : every, from: from, until: until
        )).1
    }

    /// The edit that resolves a conflict on `field` (as `ConflictView` names it) with `value`:
    /// writing the field again settles it.
    static func resolve(field: String, value: String) throws(AdminFailure) -> [Edit] {
        let inner = field.dropFirst("commitment[".count)
        guard field.hasPrefix("commitment["), let close = inner.firstIndex(of: "]") else {
            return [try EditRequests.setField(SetFieldRequest(field: field, value: value == "(none)" ? "" : value))]
        }
        let id = String(inner[..<close])
        let attribute = String(inner[close...].dropFirst(2))  // after "]."
        let cleared = value == "(none)" ? "" : value
        let request: CommitmentRequest
        switch attribute {
        case "by": request = CommitmentRequest(action: .update, commitment: id, by: cleared)
        case "kind": request = CommitmentRequest(action: .update, commitment: id, kind: cleared)
        case "description": request = CommitmentRequest(action: .update, commitment: id, description: cleared)
        case "dueDate": request = CommitmentRequest(action: .update, commitment: id, dueDate: cleared)
        case "amount": request = CommitmentRequest(action: .update, commitment: id, amount: cleared)
        case "schedule":
            // As `Schedule.description` writes it: "monthly from 2027-01-01 until 2027-12-31".
            let words = cleared.split(separator: " ").map(String.init)
            guard words.isEmpty || (words.count >= 3 && words[1] == "from") else {
                throw AdminFailure.badRequest("\"\(value)\" is not a schedule")
            }
            request = CommitmentRequest(
                action: .update, commitment: id, every: words.first ?? "none", from: words.count >= 3 ? words[2] : nil,
                until: words.count >= 5 ? words[4] : nil
            )
        case "state":
            throw AdminFailure.badRequest(
                "the state of a commitment is settled by its parties' steps (claim, confirm, dispute, waive), not by choosing a value"
            )
        default:
            throw AdminFailure.badRequest("\(field) is not a field the console can write")
        }
        return try EditRequests.commitment(request).1
    }

    /// The edits of the new-agreement form: the agreement, then each commitment row that has a
    /// description.
    static func create(_ form: [String: String], parties: [String]) throws(AdminFailure) -> [Edit] {
        let title = (form["title"] ?? "").trimmingCharacters(in: .whitespaces)
        guard !title.isEmpty else { throw AdminFailure.badRequest("an agreement needs a title") }
        guard !parties.isEmpty else { throw AdminFailure.badRequest("choose the parties") }
        var framework: [String: String] = [:]
        for dimension in FrameworkDimension.allCases {
            if let text = form["framework.\(dimension.name)"]?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty { framework[dimension.name] = text }
        }
        func date(_ name: String) -> String? { (form[name] ?? "").isEmpty ? nil : form[name] }
        var edits = try EditRequests.create(CreateAgreementRequest(
            title: title, category: form["category"] ?? "", parties: parties, framework: framework, effectiveFrom: date("effectiveFrom"),
            expiresOn: date("expiresOn")
        ))
        for row in 0..<ConsolePages.newCommitmentRows {
            let fields = ["by", "kind", "description", "dueDate"].reduce(into: [String: String]()) { $0[$1] = form["commitment\(row).\($1)"] }
            guard let description = fields["description"], !description.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            edits += try commitment(fields, id: nil, current: nil)
        }
        return edits
    }
}
