import AccordModel
import Synchronization

/// One live session per pair of nodes.
///
/// Two nodes that dial each other at the same moment get two sessions; both must keep the same
/// one without talking about it. The rule: the connection dialed by the node whose id sorts first
/// is preferred. A new session replaces an existing one unless the new one is not preferred and the
/// existing one is — so a reconnect after a silent failure (same direction) always wins over the
/// stale session, and of two simultaneous dials both sides keep the preferred one.
final class SessionRegistry: Sendable {
    struct Entry: Sendable {
        let id: UInt64
        let session: PeerSession
        let close: @Sendable () -> Void
    }

    private struct State {
        var sessions: [NodeID: Entry] = [:]
        var nextID: UInt64 = 0
        var endWaiters: [NodeID: [UInt64: CheckedContinuation<Void, Never>]] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let local: NodeID
    private let state = Mutex(State())

    init(local: NodeID) { self.local = local }

    private func isPreferred(_ direction: SessionDirection, peer: NodeID) -> Bool {
        let localFirst = local < peer
        return (direction == .outbound) == localFirst
    }

    /// Registers `session`, closing a session it replaces; nil if an existing session is kept.
    func admit(_ session: PeerSession, close: @escaping @Sendable () -> Void) -> UInt64? {
        let node = session.peer.node
        let outcome: (id: UInt64?, replaced: Entry?) = state.withLock { state in
            if let existing = state.sessions[node],
                !isPreferred(session.direction, peer: node), isPreferred(existing.session.direction, peer: node)
            {
                return (nil, nil)
            }
            state.nextID += 1
            let replaced = state.sessions[node]
            state.sessions[node] = Entry(id: state.nextID, session: session, close: close)
            return (state.nextID, replaced)
        }
        outcome.replaced?.close()
        return outcome.id
    }

    func remove(_ node: NodeID, id: UInt64) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            guard state.sessions[node]?.id == id else { return [] }
            state.sessions[node] = nil
            return state.endWaiters.removeValue(forKey: node).map { Array($0.values) } ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    func session(with node: NodeID) -> PeerSession? { state.withLock { $0.sessions[node]?.session } }

    var sessions: [PeerSession] { state.withLock { $0.sessions.values.map(\.session) } }

    var count: Int { state.withLock { $0.sessions.count } }

    /// Returns once no session with `node` is registered (or the task is cancelled).
    func waitUntilNoSession(with node: NodeID) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.sessions[node] == nil || Task.isCancelled { return true }
                    state.endWaiters[node, default: [:]][id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.endWaiters[node]?.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// Closes every session (shutdown).
    func closeAll() {
        for entry in state.withLock({ Array($0.sessions.values) }) { entry.close() }
    }
}
