package import AccordModel

/// Notices two processes that run with one node certificate. Each of them holds a session with
/// this node only until the other connects and replaces it; the loser reconnects and replaces the
/// winner, and so on: sessions of one node replaced within moments of starting, again and again.
/// An honest reconnect replaces a session that has gone stale — usually long-lived, and rarely
/// several times within minutes. A pure value; `SyncNode` keeps it and logs what it reports.
package struct DuplicateIdentityWatch: Sendable {
    /// A replaced session younger than this counts as a sign.
    package static let youngSession: Duration = .seconds(60)
    /// This many signs within `window` report the node.
    package static let signs = 3
    package static let window: Duration = .seconds(600)

    private var replacements: [NodeID: [ContinuousClock.Instant]] = [:]
    /// When each node was last reported, so that it is reported once per window.
    private var reported: [NodeID: ContinuousClock.Instant] = [:]

    package init() {}

    /// A session of `node` replaced one that had run for `age`; true if `node` should now be
    /// reported as a duplicate identity.
    package mutating func replaced(_ node: NodeID, after age: Duration, at now: ContinuousClock.Instant) -> Bool {
        guard age < Self.youngSession else { return false }
        var recent = (replacements[node] ?? []).filter { now - $0 < Self.window }
        recent.append(now)
        replacements[node] = recent
        // Bounded: only nodes with recent signs are kept.
        replacements = replacements.filter { !$0.value.isEmpty && now - $0.value.last! < Self.window }
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
