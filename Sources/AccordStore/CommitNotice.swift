public import AccordCrypto
public import AccordModel

/// What one committed transaction did, for observers that turn it into events (the admin API's
/// event stream): the changes it accepted, rejected or held, and each agreement it changed with
/// its materialised state before and after.
///
/// Built only while an observer is registered (`NodeStore.observeCommits`), so a node nobody
/// watches pays nothing for it.
public struct CommitNotice: Sendable {
    /// A change the transaction rejected, or refused for how it arrived.
    public struct Rejection: Sendable {
        public let change: ChangeID
        public let agreement: AgreementID
        public let rejection: ChangeRejection
        /// The peer node it came from; nil for a change released from hold or applied locally.
        public let origin: NodeID?
    }

    /// A change held until it can be judged.
    public struct Hold: Sendable {
        public let change: ChangeID
        public let agreement: AgreementID
        public let reason: HoldReason
    }

    /// An agreement whose accepted changes the transaction added.
    public struct Transition: Sendable {
        public let agreement: AgreementID
        /// Its materialised row before the transaction; nil when the agreement is new here.
        public let before: MaterialisedAgreement?
        public let after: Agreement
    }

    /// When the transaction was committed (the node's clock).
    public let committedAtMillis: UInt64
    /// Every change accepted, in log order (released held changes among them).
    public let accepted: [StoredChange]
    /// Accepted changes that had been held.
    public let released: Set<ChangeID>
    public let rejected: [Rejection]
    public let held: [Hold]
    public let transitions: [Transition]
    /// Who made accepted changes, where their author node said (`Attribution`), by change.
    public let attributions: [ChangeID: Attribution]
}

/// The columns of an agreement's materialised row that its status and approvals derive from.
public struct MaterialisedAgreement: Sendable, Equatable {
    public let termsHash: SHA256Digest
    public let partyCount: Int
    public let freshApprovals: Int
    public let approvals: Int
    public let conflicts: Int
    public let terminatesOn: CalendarDate?
    public let void: Bool
    public let expiresOn: CalendarDate?
    /// The log position from which this agreement holds changes only version-5 peers can read.
    public let newerProtocolFrom: Int64?

    public func status(on today: CalendarDate) -> AgreementStatus {
        AgreementStatus.derive(
            void: void, terminatesOn: terminatesOn, expiresOn: expiresOn, partyCount: partyCount,
            freshApprovals: freshApprovals, approvals: approvals, today: today
        )
    }
}

/// The parts of a `CommitNotice` a transaction gathers as it goes.
struct CommitNoticeDraft {
    var committedAtMillis: UInt64 = 0
    var accepted: [StoredChange] = []
    var released: Set<ChangeID> = []
    var rejected: [CommitNotice.Rejection] = []
    var held: [CommitNotice.Hold] = []
    var transitions: [CommitNotice.Transition] = []
    var attributions: [ChangeID: Attribution] = [:]
}

extension CommitNoticeDraft {
    var notice: CommitNotice {
        CommitNotice(
            committedAtMillis: committedAtMillis, accepted: accepted, released: released, rejected: rejected,
            held: held, transitions: transitions, attributions: attributions
        )
    }

    /// True if the transaction did nothing an observer would hear of.
    var isEmpty: Bool { accepted.isEmpty && rejected.isEmpty && held.isEmpty }
}

/// A registration of `NodeStore.observeCommits`; `cancel()` ends it.
public final class CommitObservation: Sendable {
    private let end: @Sendable () -> Void

    init(end: @escaping @Sendable () -> Void) { self.end = end }

    public func cancel() { end() }
}

struct CommitObservers: Sendable {
    var observers: [Int: @Sendable (CommitNotice) -> Void] = [:]
    var nextID = 0
}
