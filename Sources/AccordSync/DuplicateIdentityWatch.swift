package import AccordModel

/// Notices two processes that run with one node certificate. They show in one of two ways,
/// depending on which session this node's rule keeps (`SessionRegistry.keepsExisting`):
/// - each of them holds a session with this node only until the other connects and replaces it;
///   the loser reconnects and replaces the winner, and so on: sessions of one node replaced
///   within moments of starting, again and again;
/// - or this node keeps the session of one and closes every new session of the other as a
///   duplicate, while the kept session is plainly alive: it is heard from after each of them.
/// An honest reconnect replaces a session that has gone stale — usually long-lived, and rarely
/// several times within minutes; a node that restarted while this one still holds its old
/// session is refused only until that session's idle timeout, and that session is never heard
/// from again. A pure value; `SyncNode` keeps it and logs what it reports.
package struct DuplicateIdentityWatch: Sendable {
    /// A replaced session younger than this counts as a sign.
    package static let youngSession: Duration = .seconds(60)
    /// This many signs within `window` report the node.
    package static let signs = 3
    package static let window: Duration = .seconds(600)

    private var signsSeen: [NodeID: [ContinuousClock.Instant]] = [:]
    /// When a new session of each node was last closed as a duplicate of the one kept.
    private var lastDuplicate: [NodeID: ContinuousClock.Instant] = [:]
    /// When each node was last reported, so that it is reported once per window.
    private var reported: [NodeID: ContinuousClock.Instant] = [:]

    package init() {}

    /// A session of `node` replaced one that had run for `age`; true if `node` should now be
    /// reported as a duplicate identity.
    package mutating func replaced(_ node: NodeID, after age: Duration, at now: ContinuousClock.Instant) -> Bool {
        guard age < Self.youngSession else { return false }
        return sign(of: node, at: now)
    }

    /// A new session of `node` was closed because this node keeps the one it has, last heard
    /// from at `keptLastHeard`. The duplicate before it is a sign if the kept session was heard
    /// from since: its process is alive, and another one dialled. True if `node` should now be
    /// reported as a duplicate identity.
    package mutating func duplicateClosed(_ node: NodeID, keptLastHeard: ContinuousClock.Instant, at now: ContinuousClock.Instant) -> Bool {
        let previous = lastDuplicate[node]
        lastDuplicate[node] = now
        lastDuplicate = lastDuplicate.filter { now - $0.value < Self.window }
        guard let previous, keptLastHeard > previous else { return false }
        return sign(of: node, at: now)
    }

    private mutating func sign(of node: NodeID, at now: ContinuousClock.Instant) -> Bool {
        var recent = (signsSeen[node] ?? []).filter { now - $0 < Self.window }
        recent.append(now)
        signsSeen[node] = recent
        // Bounded: only nodes with recent signs are kept.
        signsSeen = signsSeen.filter { !$0.value.isEmpty && now - $0.value.last! < Self.window }
        guard recent.count >= Self.signs, reported[node].map({ now - $0 >= Self.window }) ?? true else { return false }
        reported[node] = now
        reported = reported.filter { now - $0.value < Self.window }
        return true
    }

    /// The nodes reported within the last window.
    package func suspected(at now: ContinuousClock.Instant) -> [NodeID] {
        reported.filter { now - $0.value < Self.window }.keys.sorted()
    }
}
