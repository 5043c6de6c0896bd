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
