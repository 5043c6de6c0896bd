import NIOConcurrencyHelpers

/// How many connections may wait for their session to start, in total and per source address.
public struct PendingConnectionLimits: Hashable, Sendable {
    public var total: Int
    public var perSource: Int

    public init(total: Int, perSource: Int) {
        self.total = total
        self.perSource = perSource
    }
}

/// The connections accepted but not yet established (TLS and both hellos), with the budget they
/// share. Anyone who can reach the port can open one, so they must never lock out a partner:
///
/// - their number is bounded per source address and in total;
/// - a new connection over either bound is admitted and an older one evicted instead, from the
///   source with the most pending connections, in this order: the oldest *silent* connection (no
///   byte received), then the oldest of a node that has another connection waiting after its TLS
///   handshake, then the oldest still in its handshake, and only last a node's one connection. A
///   flood of idle sockets thus makes room for anyone who actually speaks, a flood from one
///   address evicts its own connections first, and a flood that holds a valid certificate
///   evicts its own connections before a partner's (a partner behind the same address — a
///   shared NAT, loopback — included);
/// - a node needs one connection to start a session: once its TLS handshake names it, a node
///   may hold at most `perNode` connections waiting for their hellos, its older ones evicted;
/// - each has a short deadline (`SyncConfiguration.sessionStartTimeout`, enforced by `SyncNode`).
///
/// This node's own dials are not pending connections: they never compete with strangers.
/// A pure value; `PendingConnections` guards it.
package struct PendingConnectionTable {
    package typealias Limits = PendingConnectionLimits

    private struct Entry {
        let source: String
        /// Admission order: lower is older.
        let order: UInt64
        var silent = true
        /// The node its TLS handshake named, once it has.
        var node: String?
    }

    /// Connections one authenticated node may hold waiting for their hellos.
    package static let perNode = 2

    package let limits: Limits
    private var entries: [UInt64: Entry] = [:]
    private var bySource: [String: Set<UInt64>] = [:]
    private var byNode: [String: Set<UInt64>] = [:]
    private var nextID: UInt64 = 0

    package init(limits: Limits) { self.limits = limits }

    package var count: Int { entries.count }

    /// Admits a connection from `source`; returns its id and the connections to evict.
    package mutating func admit(source: String) -> (id: UInt64, evict: [UInt64]) {
        var evict: [UInt64] = []
        if (bySource[source]?.count ?? 0) >= limits.perSource, let victim = victim(from: source) {
            evict.append(victim)
            remove(victim)
        }
        while entries.count >= limits.total, let busiest = bySource.max(by: { ($0.value.count, $1.key) < ($1.value.count, $0.key) })?.key,
            let victim = victim(from: busiest)
        {
            evict.append(victim)
            remove(victim)
        }
        nextID += 1
        entries[nextID] = Entry(source: source, order: nextID)
        bySource[source, default: []].insert(nextID)
        return (nextID, evict)
    }

    /// The connection sent its first bytes.
    package mutating func spoke(_ id: UInt64) { entries[id]?.silent = false }

    /// The connection's TLS handshake named `node`; returns the connections of that node to
    /// evict (its oldest, beyond `perNode`).
    package mutating func authenticated(_ id: UInt64, node: String) -> [UInt64] {
        guard entries[id] != nil, entries[id]?.node == nil else { return [] }
        entries[id]?.node = node
        byNode[node, default: []].insert(id)
        var evict: [UInt64] = []
        while let waiting = byNode[node], waiting.count > Self.perNode,
            let oldest = waiting.min(by: { entries[$0]!.order < entries[$1]!.order })
        {
            evict.append(oldest)
            remove(oldest)
        }
        return evict
    }

    /// The connection was established or closed.
    package mutating func remove(_ id: UInt64) {
        guard let entry = entries.removeValue(forKey: id) else { return }
        bySource[entry.source]?.remove(id)
        if bySource[entry.source]?.isEmpty == true { bySource[entry.source] = nil }
        if let node = entry.node {
            byNode[node]?.remove(id)
            if byNode[node]?.isEmpty == true { byNode[node] = nil }
        }
    }

    /// Which of `source`'s connections goes first: silent ones, then those of a node with
    /// another connection waiting, then those still in their handshake, then a node's only
    /// one; the oldest of the first group that has any.
    private func victim(from source: String) -> UInt64? {
        func rank(_ entry: Entry) -> Int {
            if entry.silent { return 0 }
            guard let node = entry.node else { return 2 }
            return (byNode[node]?.count ?? 0) > 1 ? 1 : 3
        }
        let candidates = (bySource[source] ?? []).compactMap { id in entries[id].map { (id, $0) } }
        return candidates.min { (rank($0.1), $0.1.order) < (rank($1.1), $1.1.order) }?.0
    }
}

/// `PendingConnectionTable` shared by the event loops that accept connections; evicted
/// connections are closed after the lock is released.
final class PendingConnections: Sendable {
    private struct State {
        var table: PendingConnectionTable
        var closers: [UInt64: @Sendable () -> Void] = [:]
    }

    private let state: NIOLockedValueBox<State>

    init(limits: PendingConnectionTable.Limits) {
        state = NIOLockedValueBox(State(table: PendingConnectionTable(limits: limits)))
    }

    /// Admits a new connection from `source`; `evict` ends it if it is evicted later. Returns its
    /// id, and how many older connections it evicted.
    func admit(source: String, evict: @escaping @Sendable () -> Void) -> (id: UInt64, evicted: Int) {
        let (id, evicted) = state.withLockedValue { state in
            let (id, victims) = state.table.admit(source: source)
            state.closers[id] = evict
            return (id, victims.compactMap { state.closers.removeValue(forKey: $0) })
        }
        for close in evicted { close() }
        return (id, evicted.count)
    }

    func spoke(_ id: UInt64) { state.withLockedValue { $0.table.spoke(id) } }

    /// The connection's TLS handshake named `node`; returns how many older connections of that
    /// node it evicted.
    @discardableResult
    func authenticated(_ id: UInt64, node: String) -> Int {
        let evicted = state.withLockedValue { state in
            state.table.authenticated(id, node: node).compactMap { state.closers.removeValue(forKey: $0) }
        }
        for close in evicted { close() }
        return evicted.count
    }

    func remove(_ id: UInt64) {
        state.withLockedValue { state in
            state.table.remove(id)
            state.closers[id] = nil
        }
    }

    var count: Int { state.withLockedValue { $0.table.count } }
}
