import NIOConcurrencyHelpers

/// Counters of one node's sync, for `GET /metrics` and the tests. Cheap to bump from any task.
public final class SyncMetrics: Sendable {
    /// A consistent copy of every counter.
    public struct Snapshot: Sendable {
        public var sessionsEstablished = 0
        /// Sessions that ended, by reason (`closed`, `idle`, `protocol`, `superseded`, `error`…).
        public var sessionsEnded: [String: Int] = [:]
        public var changesSent = 0
        public var changesReceived = 0
        public var changesAccepted = 0
        public var changesDuplicate = 0
        public var changesHeld = 0
        /// Received changes refused, by rule (`ChangeRejection.Code` names).
        public var changesRejected: [String: Int] = [:]
        public var batchesAcknowledged = 0
        public var reconcileRounds = 0
        public var reconcileDifferences = 0
        public var reconcileSecondsTotal = 0.0
        public var dialFailures = 0
        /// Incoming connections closed before a session, by reason (`too-many-connections`, a TLS
        /// error code such as `peer-rejected`, or a session-start code such as `identityMismatch`).
        public var connectionsRefused: [String: Int] = [:]
        /// Frames of reconciliation (`reconcile` and `heads`) sent and received, and their bytes.
        public var reconcileMessages = 0
        public var reconcileBytes = 0
        /// Of `reconcileBytes`, those of `heads` frames (what each side has of the agreements
        /// found different, for repairs); the rest is the set reconciliation itself.
        public var headsBytes = 0
        /// Bytes of `changes` frames sent.
        public var changeBytesSent = 0
    }

    private let state = NIOLockedValueBox(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLockedValue { $0 } }

    func update(_ body: (inout Snapshot) -> Void) { state.withLockedValue { body(&$0) } }
}
