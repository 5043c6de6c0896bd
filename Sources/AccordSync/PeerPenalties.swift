package import AccordModel
import NIOConcurrencyHelpers

/// Nodes that broke the protocol, and until when each is refused after its TLS handshake.
///
/// A session that ends because its peer broke the protocol (a malformed frame, a message out of
/// turn, forged changes, a peer that reads nothing) costs this node a handshake, a session start
/// and store writes; a peer that does it again at once would make that a loop. So each such end
/// is a strike, and the node is refused for a while after it: 1 s after the first, doubling to at
/// most a minute by default (`SyncConfiguration.misbehaviourPenalties`; forged changes: at least
/// `forgerQuarantine`). Strikes are forgiven after ten quiet minutes,
/// so an honest node that once sent something odd is never shut out for long. A pure value;
/// `SyncNode` keeps it under a lock.
package struct PeerPenalties {
    private struct Record {
        var strikes: Int
        var lastStrike: ContinuousClock.Instant
        var refusedUntil: ContinuousClock.Instant
    }

    package static let forgiveAfter: Duration = .seconds(600)

    /// The first penalty and the longest.
    let penalties: ClosedRange<Duration>
    let forgerQuarantine: Duration
    private var records: [NodeID: Record] = [:]

    package init(penalties: ClosedRange<Duration>, forgerQuarantine: Duration) {
        self.penalties = penalties
        self.forgerQuarantine = forgerQuarantine
    }

    /// Whether a session end for `reason` (`ConnectionRefusal.reason(of:)`) is the peer's fault.
    package static func isMisbehaviour(_ reason: String) -> Bool {
        ["protocol-violation", "malformed-frame", "forged-changes", "identity-mismatch", "peer-not-reading"].contains(reason)
    }

    /// Records a strike against `node`; returns how long it is refused from `now`.
    @discardableResult
    package mutating func strike(_ node: NodeID, reason: String, at now: ContinuousClock.Instant) -> Duration {
        var record = Record(strikes: 0, lastStrike: now, refusedUntil: now)
        if let previous = records[node], previous.lastStrike + Self.forgiveAfter >= now { record = previous }
        record.strikes += 1
        record.lastStrike = now
        var penalty = min(penalties.upperBound, penalties.lowerBound * (1 << min(record.strikes - 1, 16)))
        if reason == "forged-changes" { penalty = max(penalty, forgerQuarantine) }
        record.refusedUntil = now + penalty
        records[node] = record
        return penalty
    }

    /// Until when `node` is refused, if it is at `now`.
    package func refusedUntil(_ node: NodeID, at now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard let until = records[node]?.refusedUntil, now < until else { return nil }
        return until
    }

    /// Drops records that are forgiven by `now` (keeps the table from growing).
    package mutating func forget(before now: ContinuousClock.Instant) {
        records = records.filter { $0.value.lastStrike + Self.forgiveAfter >= now }
    }
}

/// `PeerPenalties` shared by a node's sessions.
final class PenaltyBook: Sendable {
    private let penalties: NIOLockedValueBox<PeerPenalties>

    init(penalties: ClosedRange<Duration>, forgerQuarantine: Duration) {
        self.penalties = NIOLockedValueBox(PeerPenalties(penalties: penalties, forgerQuarantine: forgerQuarantine))
    }

    func strike(_ node: NodeID, reason: String) {
        penalties.withLockedValue { _ = $0.strike(node, reason: reason, at: .now) }
    }

    func refusedUntil(_ node: NodeID) -> ContinuousClock.Instant? {
        penalties.withLockedValue { $0.refusedUntil(node, at: .now) }
    }

    func forgetForgiven() {
        penalties.withLockedValue { $0.forget(before: .now) }
    }
}
