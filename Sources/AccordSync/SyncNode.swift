public import AccordCrypto
public import AccordModel
public import AccordRefusals
public import AccordStore
public import AccordTLS
public import Logging
import NIOCore
public import NIOPosix
import NIOConcurrencyHelpers
import Synchronization

/// A node's sync: listens for its peers, dials the configured ones, keeps one session per peer
/// node and reconnects with exponential backoff and jitter. Everything agreement-related happens
/// in the sessions (`PeerSession`); this type owns the connections.
public final class SyncNode: Sendable {
    public let configuration: SyncConfiguration
    public let metrics = SyncMetrics()
    let store: NodeStore
    /// The TLS context new connections use; a reload replaces it (live sessions keep theirs).
    let currentTLS: NIOLockedValueBox<TLSContext>
    /// The peers to dial and accept, as last configured; a reload replaces them.
    let configuredPeers: AwaitableState<[PeerEndpoint]>
    let directory: CertificateDirectory
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let registry: SessionRegistry
    let services: SyncServices
    /// The node that answered at each configured address, once a session with it started.
    let dialled = AwaitableState<[PeerEndpoint: NodeID]>([:])
    /// The port `run` bound, once it has; closed when `run` ends.
    private let boundPort = AwaitableState<Int?>(nil)
    /// Connections accepted whose session has not started yet (`PendingConnectionTable`).
    let pending: PendingConnections
    /// Refused connections, sessions and changes, logged once per reason and then summarised.
    let refusals: RefusalLog
    /// Nodes that broke the protocol, refused after their handshake for a while.
    let penalties: PenaltyBook
    /// Told of every session that starts or ends (`observeSessions`).
    let sessionObservers = NIOLockedValueBox<[@Sendable (SessionNotice) -> Void]>([])
    /// The last connection problem of each peer node and configured address (`peers`).
    let problems = ConnectionProblems()
    /// Sessions of one node replacing each other again and again: one certificate in two processes.
    let duplicates = NIOLockedValueBox(DuplicateIdentityWatch())
    /// The listener `bind` opened, until `run` takes it.
    private let preparedListener = NIOLockedValueBox<Listener?>(nil)

    /// - Parameters:
    ///   - directory: the authors this node trusts; its own certificate and its peers' are
    ///     admitted into it as sessions start.
    ///   - refusals: where refusals are logged; the process's shared log (`accordd`), else one
    ///     of the node's own.
    public init(
        configuration: SyncConfiguration, store: NodeStore, tls: TLSContext, directory: CertificateDirectory,
        logger: Logger, refusals: RefusalLog? = nil, group: MultiThreadedEventLoopGroup = .singleton
    ) {
        self.configuration = configuration
        self.store = store
        self.currentTLS = NIOLockedValueBox(tls)
        self.configuredPeers = AwaitableState(configuration.peers)
        self.directory = directory
        self.logger = logger
        self.group = group
        self.registry = SessionRegistry(local: configuration.node)
        self.pending = PendingConnections(limits: configuration.pendingConnections)
        self.penalties = PenaltyBook(penalties: configuration.misbehaviourPenalties, forgerQuarantine: configuration.forgerQuarantine)
        self.refusals = refusals ?? RefusalLog(logger: logger, interval: configuration.refusalSummaryInterval)
        self.services = SyncServices(
            configuration: configuration, store: store, directory: directory,
            verifier: ParallelVerifier(verifier: ChangeVerifier(directory: directory)), metrics: metrics, logger: logger,
            refusals: self.refusals, penalties: penalties
        )
    }

    /// Calls `observer` as each session with a peer starts and ends (from the session's task:
    /// it must be quick). For the admin API's event stream.
    public func observeSessions(_ observer: @escaping @Sendable (SessionNotice) -> Void) {
        sessionObservers.withLockedValue { $0.append(observer) }
    }

    func notifySession(_ notice: SessionNotice) {
        for observer in sessionObservers.withLockedValue({ $0 }) { observer(notice) }
    }

    /// The TLS context (this node's certificate, its CAs and revocation list) of new connections.
    public var tls: TLSContext { currentTLS.withLockedValue { $0 } }

    /// The peers this node dials now (the configuration's, or a reload's).
    public var peers: [PeerEndpoint] { configuredPeers.read { $0 } }

    /// The port the node listens on, once `run` has bound it.
    public var listeningPort: Int? { boundPort.read { $0 } }

    /// The node met at each configured address (a second node of an organisation that dialled
    /// in has none: it is not at the configured address).
    public var dialledNodes: [PeerEndpoint: NodeID] { dialled.read { $0 } }

    /// Waits until `run` listens and returns the port.
    ///
    /// - Throws: `CancellationError` if `run` ended (its bind failed, say) or the task was cancelled.
    public func waitUntilListening() async throws -> Int {
        try await boundPort.wait { $0 != nil }
        return listeningPort!
    }

    typealias Listener = NIOAsyncChannel<Connection, Never>

    /// Why the listen address could not be bound.
    public struct BindFailure: Error, CustomStringConvertible {
        /// Another process listens there already (EADDRINUSE).
        public let inUse: Bool
        public let description: String
    }

    /// Binds the listen address, so that a taken port is an error before the node says it has
    /// started; `run` then serves on it. Without it, `run` binds by itself.
    ///
    /// - Throws: `BindFailure`.
    public func bind() async throws {
        let listener = try await openListener()
        preparedListener.withLockedValue { $0 = listener }
        boundPort.update { $0 = listener.channel.localAddress?.port }
    }

    /// Closes a listener `bind` opened that `run` never took (start-up failed after it).
    public func closeUnusedListener() async {
        guard let listener = preparedListener.withLockedValue({ $0.take() }) else { return }
        try? await listener.executeThenClose { _ in }
    }

    private func openListener() async throws -> Listener {
        do {
            return try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.listenHost, port: configuration.listenPort) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        // Read per connection: a reload may add or remove organisations.
                        let allowed = Set(self.configuredPeers.read { $0.map(\.organisation.rawValue) })
                        return try self.accept(channel, policy: PeerPolicy(allowedOrganisations: allowed))
                    }
                }
        } catch let error as IOError {
            let address = "\(configuration.listenHost):\(configuration.listenPort)"
            if error.errnoCode == EADDRINUSE {
                throw BindFailure(inUse: true, description: "\(address) is in use by another process (another accordd, or an old one still stopping?)")
            }
            throw BindFailure(inUse: false, description: "cannot listen on \(address): \(String(cString: strerror(error.errnoCode)))")
        }
    }

    /// Listens, dials and serves until the task is cancelled; then closes every session (TLS
    /// close_notify) and returns.
    public func run() async throws {
        defer { boundPort.close() }
        let prepared = preparedListener.withLockedValue { $0.take() }
        let server = if let prepared { prepared } else { try await openListener() }
        boundPort.update { $0 = server.channel.localAddress?.port }
        logger.info("listening for peers", metadata: ["address": "\(configuration.listenHost):\(listeningPort ?? 0)"])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                // The accept loop runs in a task of its own that shutdown does not cancel: it
                // closes the listener instead, and the loop then takes every connection already
                // accepted out of the listener's buffer and closes it properly. A cancelled loop
                // would drop them unclosed, and NIO traps on an async channel that was never
                // finished (seen once under TSan as a node stopped while a peer redialled).
                let stopping = StopFlag()
                let acceptLoop = Task {
                    try await server.executeThenClose { connections in
                        try await withThrowingDiscardingTaskGroup { sessions in
                            for try await connection in connections {
                                if stopping.isSet {
                                    sessions.addTask { try? await connection.channel.executeThenClose { _, _ in } }
                                    continue
                                }
                                let address = connection.channel.channel.remoteAddress.map { "\($0)" } ?? "unknown"
                                sessions.addTask { _ = await self.serve(connection, direction: .inbound, address: address) }
                            }
                            // The listener is closed and drained: end the sessions it started.
                            sessions.cancelAll()
                        }
                    }
                }
                try await withTaskCancellationHandler {
                    try await acceptLoop.value
                } onCancel: {
                    stopping.set()
                    server.channel.close(promise: nil)
                    self.registry.closeAll()
                }
            }
            group.addTask { await self.dialConfiguredPeers() }
            group.addTask { try await self.releaseHeldChanges() }
            group.addTask { try await self.summariseRefusals() }
        }
    }

    /// Runs a reconciliation round with every connected peer (or those of `organisation`) and
    /// returns each result; a peer that has not completed its round within `timeout` (a paused
    /// or overloaded node) is reported as such instead of being waited for.
    public func synchronise(
        with organisation: OrganisationID? = nil, timeout: Duration = .seconds(60)
    ) async -> [NodeID: Result<RoundResult, RoundFailure>] {
        let sessions = registry.sessions.filter { organisation == nil || $0.peer.node.organisation == organisation }
        return await withTaskGroup(of: RoundOutcome.self) { group in
            for session in sessions {
                group.addTask { await RoundOutcome(session, timeout: timeout) }
            }
            var results: [NodeID: Result<RoundResult, RoundFailure>] = [:]
            for await outcome in group { results[outcome.node] = outcome.result }
            return results
        }
    }

    /// Why a round that was asked for gave no result, in words.
    public struct RoundFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// One session's answer to `synchronise`.
    private struct RoundOutcome: Sendable {
        let node: NodeID
        let result: Result<RoundResult, RoundFailure>

        init(_ session: PeerSession, timeout: Duration) async {
            node = session.peer.node
            result = await withTaskGroup(of: Result<RoundResult, RoundFailure>?.self) { group in
                group.addTask {
                    do {
                        return .success(try await session.synchronise())
                    } catch is CancellationError {
                        // Cancelled by the deadline below, or the session ended under the round.
                        return Task.isCancelled ? nil : .failure(RoundFailure(description: "the session ended before the round completed"))
                    } catch {
                        return .failure(RoundFailure(description: "\(ConnectionProblem(error, direction: session.direction, atMillis: 0).message)"))
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return Task.isCancelled ? nil : .failure(RoundFailure(description: "no answer within \(timeout) (is the peer paused or overloaded?)"))
                }
                var first: Result<RoundResult, RoundFailure>?
                while first == nil, let next = await group.next() { first = next }
                group.cancelAll()
                return first ?? .failure(RoundFailure(description: "cancelled"))
            }
        }
    }

    /// The certificate `node` presents: its live session's, else the one it holds longest of
    /// those this node admitted for it.
    public func certificate(of node: NodeID) -> Certificate? {
        registry.session(with: node)?.peer.identity.certificate ?? directory.certificates(of: node).max { $0.notAfter < $1.notAfter }
    }

    /// The organisations of every node whose certificate this node has admitted.
    public var knownOrganisations: Set<OrganisationID> { directory.organisations }

    /// The live sessions.
    public var sessions: [SessionStatus] { registry.sessions.map(\.status).sorted { $0.node < $1.node } }

    /// The last problem of each peer node's connections and each configured address's (refused
    /// here or by the peer, or never reached), in both directions.
    public var connectionProblems: [ConnectionSubject: ConnectionProblem] { problems.all }

    /// Nodes whose sessions kept replacing each other lately: one certificate in two processes.
    public var suspectedDuplicateIdentities: [NodeID] { duplicates.withLockedValue { $0.suspected(at: .now) } }

    /// Closes the refusal log's summary windows as they fall due.
    private func summariseRefusals() async throws {
        while true {
            try await Task.sleep(for: refusals.interval)
            refusals.flush()
            penalties.forgetForgiven()
        }
    }

    /// Re-judges changes held for clock skew as time passes.
    private func releaseHeldChanges() async throws {
        while true {
            try await Task.sleep(for: configuration.releaseHeldInterval)
            do {
                let report = try await store.releaseHeld(nowMillis: configuration.clock())
                if !report.accepted.isEmpty || !report.rejected.isEmpty {
                    logger.info("released held changes", metadata: ["accepted": "\(report.accepted.count)", "rejected": "\(report.rejected.count)"])
                }
            } catch {
                logger.error("could not re-judge held changes", metadata: ["reason": "\(error)"])
            }
        }
    }
}

/// A session with a peer started or ended.
public struct SessionNotice: Sendable {
    public enum Kind: Sendable { case established, ended }
    public let kind: Kind
    public let peer: NodeID
    public let direction: SessionDirection
    /// Why it ended (`closed`, `idle`, or a refusal reason); nil when it started.
    public let reason: String?
}

/// Set once, read from any task: a node is stopping.
final class StopFlag: Sendable {
    private let flag = Synchronization.Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}
