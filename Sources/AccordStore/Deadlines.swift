public import AccordModel

/// The `commitments` table: each agreement's commitments, rewritten whenever the agreement's
/// materialised row is (and filled once by the migration that made the table).
enum CommitmentRows {
    static func write(_ agreement: Agreement, key: Int64, _ connection: SQLiteConnection) throws(StoreError) {
        try connection.statement("DELETE FROM commitments WHERE agreement_key = :key").bind(":key", key).run()
        let insert = try connection.statement(
            """
            INSERT INTO commitments (agreement_key, commitment, organisation, kind, description, due_date, state)
            VALUES (:key, :commitment, :organisation, :kind, :description, :due, :state)
            """
        )
        for commitment in agreement.commitments {
            defer { insert.reset() }
            try insert.bind(":key", key).bind(":commitment", commitment.id.uuid.bytes).bind(":organisation", commitment.by?.rawValue)
                .bind(":kind", commitment.kind?.name).bind(":description", commitment.description)
                .bind(":due", commitment.dueDate?.description).bind(":state", commitment.state.name).run()
        }
    }
}

/// Something with a date to keep: an open commitment's due date, or an agreement's expiry.
public struct Deadline: Hashable, Sendable {
    public enum Kind: String, Sendable { case commitment, expiry }

    public let kind: Kind
    public let date: CalendarDate
    public let agreement: AgreementID
    public let title: String?
    /// For a commitment: its id, owner and description.
    public let commitment: CommitmentID?
    public let owner: OrganisationID?
    public let description: String?

    public init(
        kind: Kind, date: CalendarDate, agreement: AgreementID, title: String?, commitment: CommitmentID? = nil,
        owner: OrganisationID? = nil, description: String? = nil
    ) {
        self.kind = kind
        self.date = date
        self.agreement = agreement
        self.title = title
        self.commitment = commitment
        self.owner = owner
        self.description = description
    }
}

extension NodeStore {
    /// Open commitments of live agreements due on or before `through`, and live agreements
    /// expiring on or before it, by date (overdue and expired ones included: their date is past).
    /// A draft that no party has approved yet binds nobody: its dates are not deadlines.
    public func deadlines(through: CalendarDate) async throws(StoreError) -> [Deadline] {
        try await read { connection throws(StoreError) in
            var deadlines: [Deadline] = []
            let commitments = try connection.statement(
                """
                SELECT c.due_date, a.id, a.title, c.commitment, c.organisation, c.description
                FROM commitments c JOIN agreements a ON a.key = c.agreement_key
                WHERE c.state = 'open' AND c.due_date IS NOT NULL AND c.due_date <= :through AND a.terminated = 0 AND a.approvals > 0
                """
            )
            try commitments.bind(":through", through.description)
            while try commitments.step() {
                guard let date = CalendarDate(iso8601: commitments.text(0)),
                    let commitment = UUIDBytes(bytes: commitments.blob(3)).map(CommitmentID.init)
                else { continue }
                deadlines.append(Deadline(
                    kind: .commitment, date: date, agreement: try LogQueries.agreementID(commitments.blob(1), path: connection.path),
                    title: commitments.isNull(2) ? nil : commitments.text(2), commitment: commitment,
                    owner: commitments.isNull(4) ? nil : OrganisationID(rawValue: commitments.text(4)),
                    description: commitments.isNull(5) ? nil : commitments.text(5)
                ))
            }
            let expiries = try connection.statement(
                "SELECT expires_on, id, title FROM agreements WHERE terminated = 0 AND approvals > 0 AND expires_on IS NOT NULL AND expires_on <= :through"
            )
            try expiries.bind(":through", through.description)
            while try expiries.step() {
                guard let date = CalendarDate(iso8601: expiries.text(0)) else { continue }
                deadlines.append(Deadline(
                    kind: .expiry, date: date, agreement: try LogQueries.agreementID(expiries.blob(1), path: connection.path),
                    title: expiries.isNull(2) ? nil : expiries.text(2), commitment: nil, owner: nil, description: nil
                ))
            }
            return deadlines.sorted { ($0.date, $0.kind.rawValue, $0.agreement) < ($1.date, $1.kind.rawValue, $1.agreement) }
        }
    }
}
