package import AccordModel
package import AccordStore

/// The outcome of one reconciliation round, as this side saw it.
public struct RoundResult: Sendable, Hashable {
    /// Agreements found different (0: the two nodes had the same history of every shared agreement).
    public let differences: Int
    /// Agreements sent whole because the peer had nothing of them.
    public let sentWhole: Int
    public let duration: Duration
    /// Unix milliseconds when the round completed.
    public let completedAt: UInt64

    public var isClean: Bool { differences == 0 }

    package init(differences: Int, sentWhole: Int, duration: Duration, completedAt: UInt64) {
        self.differences = differences
        self.sentWhole = sentWhole
        self.duration = duration
        self.completedAt = completedAt
    }
}

/// One reconciliation round of a session, from the snapshot it compares to its completion
/// (docs/protocol.md, "A session's work"). A pure value; the session drives it.
package struct ReconciliationRound: Sendable {
    package var reconciler: RangeReconciler
    /// What this side compared: its shared agreements' heads digests at one log position.
    package let snapshot: SyncSnapshot
    package let started: ContinuousClock.Instant
    /// Both item lists were compared (this side's part of the exchange is done).
    package var differencesKnown = false
    /// The peer's final heads frame of the round arrived.
    package var peerHeadsFinal = false
    /// Agreements the peer sent heads of in this round: differences it found, perhaps without
    /// this side knowing (the comparison can be one-sided).
    package var describedByPeer: Set<AgreementID> = []

    /// `codedSymbols`: the session speaks protocol version 2 (coded symbols for mismatching ranges).
    package init(snapshot: SyncSnapshot, codedSymbols: Bool, started: ContinuousClock.Instant) {
        self.snapshot = snapshot
        self.started = started
        reconciler = RangeReconciler(
            items: snapshot.digests.map { ReconciliationItem(agreement: $0.agreement, headsDigest: $0.headsDigest) }, codedSymbols: codedSymbols
        )
    }

    /// The round's result if it is complete: both lists compared, the peer's final heads in,
    /// and everything this side sent for it acknowledged (`outboxIdle`). `now` and `nowMillis`
    /// are read by the caller, outside any lock.
    package func result(outboxIdle: Bool, now: ContinuousClock.Instant, nowMillis: UInt64) -> RoundResult? {
        guard differencesKnown, peerHeadsFinal, outboxIdle else { return nil }
        return RoundResult(
            differences: reconciler.differences.union(describedByPeer).count, sentWhole: reconciler.missingAtPeer.count,
            duration: now - started, completedAt: nowMillis
        )
    }
}
