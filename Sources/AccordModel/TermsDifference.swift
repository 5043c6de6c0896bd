/// What differs between two versions of an agreement's terms, field by field: what a party
/// approved against what stands now, or the terms at one point of the history against another.
///
/// Pure and ordered (title, category, parties, framework in its order, term, then commitments by
/// id), so two nodes show the same difference in the same order.
public struct TermsDifference: Hashable, Sendable {
    /// One field that differs.
    public struct Change: Hashable, Sendable {
        public enum Field: Hashable, Sendable {
            case title, category, effectiveFrom, expiresOn
            case framework(FrameworkDimension)
            /// A party added (`after` names it) or gone (`before` names it).
            case party
            /// A commitment added (`after` holds it), removed (`before`), or one attribute changed.
            case commitment(CommitmentID, attribute: CommitmentAttribute?)
        }

        public enum CommitmentAttribute: String, Hashable, Sendable {
            case by, kind, description, dueDate
        }

        public let field: Field
        /// The value before and after, as plain text; nil where there was none.
        public let before: String?
        public let after: String?
    }

    public let changes: [Change]

    public var isEmpty: Bool { changes.isEmpty }

    public init(from older: Terms, to newer: Terms) {
        var changes: [Change] = []
        func compare(_ field: Change.Field, _ before: String?, _ after: String?) {
            if before != after { changes.append(Change(field: field, before: before, after: after)) }
        }
        compare(.title, older.title, newer.title)
        compare(.category, older.category?.name, newer.category?.name)
        let (was, now) = (Set(older.parties), Set(newer.parties))
        for party in was.subtracting(now).sorted() { changes.append(Change(field: .party, before: party.rawValue, after: nil)) }
        for party in now.subtracting(was).sorted() { changes.append(Change(field: .party, before: nil, after: party.rawValue)) }
        for dimension in FrameworkDimension.allCases { compare(.framework(dimension), older.framework[dimension], newer.framework[dimension]) }
        compare(.effectiveFrom, older.effectiveFrom?.description, newer.effectiveFrom?.description)
        compare(.expiresOn, older.expiresOn?.description, newer.expiresOn?.description)
        let before = Dictionary(older.commitments.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Dictionary(newer.commitments.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for id in Set(before.keys).union(after.keys).sorted() {
            switch (before[id], after[id]) {
            case (let old?, let new?):
                for (attribute, a, b) in [
                    (Change.CommitmentAttribute.by, old.by?.rawValue, new.by?.rawValue), (.kind, old.kind?.name, new.kind?.name),
                    (.description, old.description, new.description), (.dueDate, old.dueDate?.description, new.dueDate?.description),
                ] {
                    compare(.commitment(id, attribute: attribute), a, b)
                }
            case (let old?, nil): changes.append(Change(field: .commitment(id, attribute: nil), before: Self.summary(old), after: nil))
            case (nil, let new?): changes.append(Change(field: .commitment(id, attribute: nil), before: nil, after: Self.summary(new)))
            case (nil, nil): break
            }
        }
        self.changes = changes
    }

    /// A commitment in one line: "globex, rdSubsidy: EUR 40,000 R&D subsidy, due 2027-06-30".
    public static func summary(_ commitment: Agreement.Commitment) -> String {
        "\(commitment.by?.rawValue ?? "(no party)"), \(commitment.kind?.name ?? "(no kind)"): \(commitment.description ?? "(no description)")"
            + (commitment.dueDate.map { ", due \($0)" } ?? "")
    }
}
