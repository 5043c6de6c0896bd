import AccordAdminAPI
import AccordCrypto
import HTTPTypes
import AccordModel
import AccordStore

/// What changed in an agreement's terms: since a party's approval, or between two points of the
/// history — for `accordctl agreements diff`, the API and the console's agreement page.
extension NodeAdministration {
    /// What a difference compares.
    enum DifferenceQuery: Equatable {
        /// The terms `organisation` last approved against the current terms.
        case sinceApproval(OrganisationID)
        /// The terms after change `from` against those after change `to` (nil: the latest).
        case between(from: Int64, to: Int64?)

        init(_ query: [String: String]) throws(AdminFailure) {
            if let organisation = query["sinceApproval"] {
                guard query["from"] == nil, query["to"] == nil else { throw AdminFailure.badRequest("give sinceApproval, or from and to, not both") }
                self = .sinceApproval(try EditRequests.organisation(organisation, "sinceApproval"))
                return
            }
            guard let fromText = query["from"], let from = Int64(fromText), from >= 0 else {
                throw AdminFailure.badRequest("give sinceApproval=ORG, or from=N (a change's sequence number, 0 for before the first) and optionally to=M")
            }
            let to = try query["to"].map { text throws(AdminFailure) -> Int64 in
                guard let to = Int64(text), to >= from else { throw AdminFailure.badRequest("to=\(text): not a sequence number at or after from=\(from)") }
                return to
            }
            self = .between(from: from, to: to)
        }
    }

    func difference(_ id: AgreementID, _ query: DifferenceQuery) async throws -> TermsDifferenceView {
        let history = AgreementHistory(agreement: try await existing(id), entries: try await store.history(of: id))
        let older: Terms
        let newer: Terms
        let (from, to): (String, String)
        switch query {
        case .sinceApproval(let organisation):
            guard let approval = history.latestApproval(by: organisation) else {
                throw AdminFailure(.notFound, "not-approved", "\(organisation) has not approved agreement \(id) (or this node does not hold the terms it approved)")
            }
            older = approval.terms
            newer = history.current.terms
            from = "the terms \(organisation) approved in change \(approval.entry.sequence) (\(Views.time(approval.entry.change.stamp.millis)))"
            to = "the current terms"
        case .between(let first, let last):
            let latest = history.entries.last?.sequence ?? 0
            guard first <= latest, (last ?? latest) <= latest else {
                throw AdminFailure.badRequest("this node's history of \(id) ends at change \(latest)")
            }
            older = history.agreement(through: first).terms
            newer = last.map { history.agreement(through: $0).terms } ?? history.current.terms
            from = first == 0 ? "before the first change" : "after change \(first)"
            to = last.map { "after change \($0)" } ?? "the current terms"
        }
        return TermsDifferenceView(
            agreement: id.description, from: from, to: to, fromTermsHash: older.hash.hex, toTermsHash: newer.hash.hex,
            changes: Views.difference(TermsDifference(from: older, to: newer), older: older, newer: newer)
        )
    }
}

extension Views {
    /// Each field that differs, named for the API and in words for people.
    static func difference(_ difference: TermsDifference, older: Terms, newer: Terms) -> [TermsDifferenceView.FieldChange] {
        let descriptions = Dictionary(
            (older.commitments + newer.commitments).map { ($0.id, $0.description ?? TermsDifference.summary($0)) }, uniquingKeysWith: { _, last in last }
        )
        return difference.changes.map { change in
            let (before, after) = (change.before, change.after)
            func quoted(_ value: String?) -> String { value.map { "“\($0)”" } ?? "nothing" }
            switch change.field {
            case .title: return .init(field: "title", before: before, after: after, description: "the title changed from \(quoted(before)) to \(quoted(after))")
            case .category:
                return .init(field: "category", before: before, after: after, description: "the category changed from \(before ?? "none") to \(after ?? "none")")
            case .effectiveFrom:
                return .init(field: "effectiveFrom", before: before, after: after, description: "the start changed from \(before ?? "open") to \(after ?? "open")")
            case .expiresOn:
                return .init(field: "expiresOn", before: before, after: after, description: "the end changed from \(before ?? "open-ended") to \(after ?? "open-ended")")
            case .framework(let dimension):
                return .init(
                    field: "framework.\(dimension.name)", before: before, after: after,
                    description: "\(FrameworkNames.label(dimension)) changed from \(quoted(before)) to \(quoted(after))"
                )
            case .party:
                return .init(field: "parties", before: before, after: after, description: after.map { "\($0) became a party" } ?? "\(before ?? "?") is no longer a party")
            case .commitment(let id, nil):
                return .init(
                    field: "commitment[\(id)]", before: before, after: after,
                    description: after.map { "a commitment was added: \($0)" } ?? "a commitment was removed: \(before ?? "?")"
                )
            case .commitment(let id, let attribute?):
                let what = quoted(descriptions[id])
                let words =
                    switch attribute {
                    case .by: "the party owing \(what) changed from \(before ?? "none") to \(after ?? "none")"
                    case .kind: "the kind of \(what) changed from \(before ?? "none") to \(after ?? "none")"
                    case .description: "the description of a commitment changed from \(quoted(before)) to \(quoted(after))"
                    case .dueDate: "the due date of \(what) changed from \(before ?? "none") to \(after ?? "none")"
                    }
                return .init(field: "commitment[\(id)].\(attribute.rawValue)", before: before, after: after, description: words)
            }
        }
    }
}

/// The framework's points as people name them.
enum FrameworkNames {
    static func label(_ dimension: FrameworkDimension) -> String {
        switch dimension {
        case .valueAlignment: "value alignment"
        case .technicalFit: "technical fit"
        case .serviceCoverage: "service coverage"
        case .dataProtection: "data protection"
        case .returnMechanism: "the return mechanism"
        }
    }
}
