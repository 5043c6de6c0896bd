public import AccordModel

/// The `commitments` table: each agreement's commitments, rewritten whenever the agreement's
/// materialised row is (and filled once by the migration that made the table).
enum CommitmentRows {
    /// - Parameter periods: whether to write the table of unsettled periods (absent before
    ///   migration 9, when an earlier migration's backfill calls this).
    static func write(_ agreement: Agreement, key: Int64, _ connection: SQLiteConnection, periods: Bool = true) throws(StoreError) {
        try connection.statement("DELETE FROM commitments WHERE agreement_key = :key").bind(":key", key).run()
        let insert = try connection.statement(
            """
            INSERT INTO commitments (agreement_key, commitment, organisation, kind, description, due_date, state)
            VALUES (:key, :commitment, :organisation, :kind, :description, :due, :state)
            """
        )
        if periods { try connection.statement("DELETE FROM commitment_periods WHERE agreement_key = :key").bind(":key", key).run() }
        let period = try periods ? connection.statement(
            "INSERT INTO commitment_periods (agreement_key, commitment, period, state) VALUES (:key, :commitment, :period, :state)"
        ) : nil
        for commitment in agreement.commitments {
            var (due, state) = (commitment.dueDate, commitment.state)
            if let schedule = commitment.schedule {
                let unsettled = schedule.periods().lazy.filter { !commitment.progress(of: $0).isSettled }.prefix(unsettledPeriods)
                // A recurring commitment is due on its earliest unsettled period, in that period's state.
                (due, state) = (unsettled.first, unsettled.first.map { commitment.progress(of: $0).state } ?? .fulfilled)
                for date in unsettled {
                    guard let period else { break }
                    defer { period.reset() }
                    try period.bind(":key", key).bind(":commitment", commitment.id.uuid.bytes).bind(":period", date.description)
                        .bind(":state", commitment.progress(of: date).state.name).run()
                }
            }
            defer { insert.reset() }
            try insert.bind(":key", key).bind(":commitment", commitment.id.uuid.bytes).bind(":organisation", commitment.by?.rawValue)
                .bind(":kind", commitment.kind?.name).bind(":description", commitment.description)
                .bind(":due", due?.description).bind(":state", state.name).run()
        }
    }

    /// How many unsettled periods of a recurring commitment are kept for `due` (two years monthly).
    static let unsettledPeriods = 24

    /// The states in which a commitment still asks something of someone.
    static let unsettledStates = "('open', 'claimed', 'disputed')"
}

/// Something with a date to keep: an open commitment's due date, or an agreement's expiry.
public struct Deadline: Hashable, Sendable {
    public enum Kind: String, Sendable { case commitment, expiry }

    public let kind: Kind
    public let date: CalendarDate
    public let agreement: AgreementID
    public let title: String?
    /// For a commitment: its id, owner and description, the period of a recurring one, and its state.
    public let commitment: CommitmentID?
    public var period: CalendarDate?
    public var state: CommitmentState = .open
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
                SELECT coalesce(p.period, c.due_date), a.id, a.title, c.commitment, c.organisation, c.description, p.period,
                    coalesce(p.state, c.state)
                FROM commitments c JOIN agreements a ON a.key = c.agreement_key
                LEFT JOIN commitment_periods p ON p.agreement_key = c.agreement_key AND p.commitment = c.commitment
                WHERE coalesce(p.state, c.state) IN \(CommitmentRows.unsettledStates) AND coalesce(p.period, c.due_date) <= :through
                  AND a.void = 0 AND a.approvals > 0
                  AND (a.terminates_on IS NULL OR coalesce(p.period, c.due_date) < a.terminates_on)
                """
            )
            try commitments.bind(":through", through.description)
            while try commitments.step() {
                guard let date = CalendarDate(iso8601: commitments.text(0)),
                    let commitment = UUIDBytes(bytes: commitments.blob(3)).map(CommitmentID.init)
                else { continue }
                var deadline = Deadline(
                    kind: .commitment, date: date, agreement: try LogQueries.agreementID(commitments.blob(1), path: connection.path),
                    title: commitments.isNull(2) ? nil : commitments.text(2), commitment: commitment,
                    owner: commitments.isNull(4) ? nil : OrganisationID(rawValue: commitments.text(4)),
                    description: commitments.isNull(5) ? nil : commitments.text(5)
                )
                deadline.period = commitments.isNull(6) ? nil : CalendarDate(iso8601: commitments.text(6))
                deadline.state = CommitmentState(name: commitments.text(7)) ?? .open
                deadlines.append(deadline)
            }
            let expiries = try connection.statement(
                """
                SELECT expires_on, id, title FROM agreements
                WHERE terminates_on IS NULL AND void = 0 AND approvals > 0 AND expires_on IS NOT NULL AND expires_on <= :through
                """
            )
            try expiries.bind(":through", through.description)
            while try expiries.step() {
                guard let date = CalendarDate(iso8601: expiries.text(0)) else { continue }
                deadlines.append(Deadline(
                    kind: .expiry, date: date, agreement: try LogQueries.agreementID(expiries.blob(1), path: connection.path),
                    title: expiries.isNull(2) ? nil : expiries.text(2), commitment: nil, owner: nil, description: nil
                ))
            }
            let none = CommitmentID(UUIDBytes(high: 0, low: 0))
            return deadlines.sorted {
                ($0.date, $0.kind.rawValue, $0.agreement, $0.commitment ?? none) < ($1.date, $1.kind.rawValue, $1.agreement, $1.commitment ?? none)
            }
        }
    }
}
