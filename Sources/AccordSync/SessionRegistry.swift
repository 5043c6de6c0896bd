package import AccordModel

/// One live session per pair of nodes.
///
/// Two nodes that dial each other at the same moment get two sessions; both must keep the same
/// one without talking about it. The rule (`keepsExisting`): the connection dialed by the node
/// whose id sorts first is preferred. A new session replaces an existing one unless the new one
/// is not preferred and the existing one is — so a reconnect after a silent failure (same
/// direction) always wins over the stale session, and of two simultaneous dials both sides keep
/// the preferred one. A node does not dial a peer while a session with it runs: its own is
/// waited for, and a dial that reaches a peer which dialled it first ends before its hello
/// (`SyncNode.alreadyInSession`) — so the preference only decides between connections that were
/// both under way before either was admitted, and a reconnect of the peer.
package final class SessionRegistry: Sendable {
    struct Entry: Sendable {
        let id: UInt64
        let session: PeerSession
        let close: @Sendable () -> Void
        let admittedAt: ContinuousClock.Instant
    }

    /// A session that was admitted: its id, and how long the session it replaced had run (a
    /// peer's sessions replacing each other within moments, again and again, are two processes
    /// with one certificate: `DuplicateIdentityWatch`).
    struct Admission: Sendable {
        let id: UInt64
        let replacedAfter: Duration?
    }

    struct Table: Sendable {
        var sessions: [NodeID: Entry] = [:]
        var nextID: UInt64 = 0
    }

    private let local: NodeID
    private let table = AwaitableState(Table())

    init(local: NodeID) { self.local = local }

    /// Whether `local`, holding a session with `peer` in direction `existing`, keeps it when a
    /// new one in direction `new` arrives. Pure: both nodes reach the same answer.
    package static func keepsExisting(_ existing: SessionDirection, over new: SessionDirection, local: NodeID, peer: NodeID) -> Bool {
        func isPreferred(_ direction: SessionDirection) -> Bool { (direction == .outbound) == (local < peer) }
        return !isPreferred(new) && isPreferred(existing)
    }

    /// Registers `session`, closing a session it replaces; nil if an existing session is kept.
    func admit(_ session: PeerSession, close: @escaping @Sendable () -> Void) -> Admission? {
        let node = session.peer.node
        let local = self.local
        let now = ContinuousClock.now
        let outcome: (id: UInt64?, replaced: Entry?) = table.update { table in
            if let existing = table.sessions[node],
                Self.keepsExisting(existing.session.direction, over: session.direction, local: local, peer: node)
            {
                return (nil, nil)
            }
            table.nextID += 1
            let replaced = table.sessions[node]
            table.sessions[node] = Entry(id: table.nextID, session: session, close: close, admittedAt: now)
            return (table.nextID, replaced)
        }
        outcome.replaced?.close()
        return outcome.id.map { Admission(id: $0, replacedAfter: outcome.replaced.map { now - $0.admittedAt }) }
    }

    func remove(_ node: NodeID, id: UInt64) {
        table.update { table in
            if table.sessions[node]?.id == id { table.sessions[node] = nil }
        }
    }

    func session(with node: NodeID) -> PeerSession? { table.read { $0.sessions[node]?.session } }

    var sessions: [PeerSession] { table.read { $0.sessions.values.map(\.session) } }

    var count: Int { table.read { $0.sessions.count } }

    /// Returns once no session with `node` is registered (or the task is cancelled).
    func waitUntilNoSession(with node: NodeID) async {
        try? await table.wait { $0.sessions[node] == nil }
    }

    /// Closes the sessions `shouldClose` picks and returns their peers.
    func close(where shouldClose: (PeerSession) -> Bool) -> [NodeID] {
        let chosen = table.read { $0.sessions.values.filter { shouldClose($0.session) } }
        for entry in chosen { entry.close() }
        return chosen.map(\.session.peer.node)
    }

    /// Closes every session (shutdown).
    func closeAll() {
        for entry in table.read({ Array($0.sessions.values) }) { entry.close() }
    }
}
