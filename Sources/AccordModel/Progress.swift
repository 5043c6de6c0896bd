/// A commitment, or one period of a recurring commitment: what a step of fulfilment is about.
public struct ProgressKey: Hashable, Comparable, Sendable {
    public let commitment: CommitmentID
    /// The period's date for a recurring commitment; nil for a one-off.
    public let period: CalendarDate?

    public init(commitment: CommitmentID, period: CalendarDate?) {
        self.commitment = commitment
        self.period = period
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        if lhs.commitment != rhs.commitment { return lhs.commitment < rhs.commitment }
        switch (lhs.period, rhs.period) {
        case (nil, nil), (_?, nil): return false
        case (nil, _?): return true
        case (let left?, let right?): return left < right
        }
    }
}

/// One step of fulfilment as the record keeps it: what was done, and the claim's note or the
/// dispute's reason. Who and when are the register write's stamp.
public struct ProgressEntry: Hashable, Sendable {
    public let step: ProgressStep
    public let text: String

    public var state: CommitmentState { step.resultingState }
}

/// Where a commitment or a period stands, who moved it there and when: what every view shows.
public struct Progress: Hashable, Sendable {
    public let state: CommitmentState
    /// The step's note or reason; empty for none.
    public let text: String
    /// The latest step (nil while open and never stepped, or for a legacy state).
    public let write: RegisterWrite<ProgressEntry>?

    public static let open = Progress(state: .open, text: "", write: nil)

    /// Whether nothing is left to do: fulfilled or waived.
    public var isSettled: Bool { state == .fulfilled || state == .waived }
}

extension ProgressStep {
    /// Whether a step by `author` counts while `owing` owes the commitment: a claim only from the
    /// owing party, the other steps only from a party owed. A step whose side no longer matches —
    /// the commitment's party changed since — counts for nothing, so that nobody settles its own
    /// side by moving the commitment to another party and back (docs/merge-rules.md, "Fulfilment").
    func counts(by author: OrganisationID, owing: OrganisationID?) -> Bool {
        guard let owing else { return false }
        return (self == .claim) == (author == owing)
    }

    /// A version-1 `state` write read by the rules of version 5: "fulfilled" by the owing party is
    /// its claim, by a party owed a confirmation; "waived" only from a party owed; else nothing.
    static func legacy(_ state: CommitmentState, by author: OrganisationID, owing: OrganisationID?) -> ProgressStep? {
        switch state {
        case .fulfilled: author == owing ? .claim : .confirm
        case .waived: author == owing ? nil : .waive
        default: nil
        }
    }
}
