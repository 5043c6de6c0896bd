import AccordCrypto
public import AccordModel
public import AccordStore
public import AccordTLS
public import Logging
public import NIOCore
public import NIOPosix
import Synchronization

/// A node's sync: listens for its peers, dials the configured ones, keeps one session per peer
/// node and reconnects with exponential backoff and jitter. Everything agreement-related happens
/// in the sessions (`PeerSession`); this type owns the connections.
public final class SyncNode: Sendable {
    public let configuration: SyncConfiguration
    public let metrics = SyncMetrics()
    private let store: NodeStore
    private let tls: TLSContext
    private let directory: CertificateDirectory
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let registry: SessionRegistry
    private let services: SyncServices
    private let boundPort = Mutex<Int?>(nil)
    private let connectionCount = Atomic<Int>(0)
    /// Nodes whose last session was closed for forged changes, refused until the instant given.
    private let quarantine = Mutex<[NodeID: ContinuousClock.Instant]>([:])
    /// Connections (handshaking or established) beyond which new ones are closed at once.
    public static let maximumConnections = 256
    /// A connection that has not completed TLS and both hellos by then is closed.
    public static let establishTimeout: TimeAmount = .seconds(15)

    /// - Parameters:
    ///   - directory: the authors this node trusts; its own certificate and its peers' are
    ///     admitted into it as sessions start.
    public init(
        configuration: SyncConfiguration, store: NodeStore, tls: TLSContext, directory: CertificateDirectory,
        logger: Logger, group: MultiThreadedEventLoopGroup = .singleton
    ) {
        self.configuration = configuration
        self.store = store
        self.tls = tls
        self.directory = directory
        self.logger = logger
        self.group = group
        self.registry = SessionRegistry(local: configuration.node)
        self.services = SyncServices(
            configuration: configuration, store: store, directory: directory,
            verifier: ParallelVerifier(verifier: ChangeVerifier(directory: directory)), metrics: metrics, logger: logger
        )
    }

    /// The port the node listens on, once `run` has bound it.
    public var listeningPort: Int? { boundPort.withLock { $0 } }

    /// Listens, dials and serves until the task is cancelled; then closes every session (TLS
    /// close_notify) and returns.
    public func run() async throws {
        let policy = PeerPolicy(allowedOrganisations: Set(configuration.peers.map(\.organisation.rawValue)))
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: configuration.listenHost, port: configuration.listenPort) { channel in
                channel.eventLoop.makeCompletedFuture { try self.install(channel, role: .server, policy: policy) }
            }
        boundPort.withLock { $0 = server.channel.localAddress?.port }
        logger.info("listening for peers", metadata: ["address": "\(configuration.listenHost):\(listeningPort ?? 0)"])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    try await server.executeThenClose { connections in
                        try await withThrowingDiscardingTaskGroup { sessions in
                            for try await connection in connections {
                                sessions.addTask { _ = await self.serve(connection, direction: .inbound) }
                            }
                        }
                    }
                } onCancel: {
                    server.channel.close(promise: nil)
                    self.registry.closeAll()
                }
            }
            for endpoint in configuration.peers {
                group.addTask { await self.dial(endpoint) }
            }
            group.addTask { try await self.releaseHeldChanges() }
        }
    }

    /// Runs a reconciliation round with every connected peer (or those of `organisation`) and
    /// returns each result.
    public func synchronise(with organisation: OrganisationID? = nil) async -> [NodeID: Result<RoundResult, any Error>] {
        let sessions = registry.sessions.filter { organisation == nil || $0.peer.node.organisation == organisation }
        return await withTaskGroup(of: RoundOutcome.self) { group in
            for session in sessions {
                group.addTask { await RoundOutcome(session) }
            }
            var results: [NodeID: Result<RoundResult, any Error>] = [:]
            for await outcome in group { results[outcome.node] = outcome.result }
            return results
        }
    }

    /// One session's answer to `synchronise`.
    private struct RoundOutcome: Sendable {
        let node: NodeID
        let result: Result<RoundResult, any Error>

        init(_ session: PeerSession) async {
            node = session.peer.node
            do { result = .success(try await session.synchronise()) } catch { result = .failure(error) }
        }
    }

    /// The live sessions.
    public var sessions: [SessionStatus] { registry.sessions.map(\.status).sorted { $0.node < $1.node } }

    // MARK: - Connections

    private typealias Connection = (channel: NIOAsyncChannel<WireMessage, WireMessage>, established: EventLoopFuture<EstablishedPeer>)

    /// The pipeline of a peer connection: TLS, framing, session start, then the async bridge
    /// (whose inbound buffer stops reading the socket while the session is busy).
    private func install(_ channel: any Channel, role: TLSHandler.Role, policy: PeerPolicy) throws -> Connection {
        let established = try installHandlers(channel, role: role, policy: policy)
        return (try Self.bridge(channel), established)
    }

    /// TLS, framing and session start, with the establish timeout.
    private func installHandlers(_ channel: any Channel, role: TLSHandler.Role, policy: PeerPolicy) throws -> EventLoopFuture<EstablishedPeer> {
        let established = channel.eventLoop.makePromise(of: EstablishedPeer.self)
        let handlers = channel.pipeline.syncOperations
        try handlers.addHandler(TLSHandler(context: tls, role: role, policy: policy))
        try handlers.addHandler(ByteToMessageHandler(FrameDecoder()))
        try handlers.addHandler(MessageToByteHandler(FrameEncoder()))
        try handlers.addHandler(PeerSessionHandler(localNode: configuration.node, clock: configuration.clock, established: established))
        let timeout = channel.eventLoop.scheduleTask(in: Self.establishTimeout) {
            established.fail(SessionError(.protocolViolation, "no session within \(Self.establishTimeout)"))
            channel.close(promise: nil)
        }
        established.futureResult.whenComplete { _ in timeout.cancel() }
        return established.futureResult
    }

    /// The async bridge (its inbound buffer stops reading the socket while the session is busy).
    /// Must be called on the channel's event loop.
    private static func bridge(_ channel: any Channel) throws -> NIOAsyncChannel<WireMessage, WireMessage> {
        try NIOAsyncChannel<WireMessage, WireMessage>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8))
        )
    }

    private enum ServeOutcome {
        case refused, duplicate(NodeID), ended(NodeID, lasted: Duration)
    }

    /// Runs one connection from session start to its end.
    private func serve(_ connection: Connection, direction: SessionDirection) async -> ServeOutcome {
        let count = connectionCount.wrappingAdd(1, ordering: .relaxed).newValue
        defer { connectionCount.wrappingSubtract(1, ordering: .relaxed) }
        let channel = connection.channel.channel
        guard count <= Self.maximumConnections else {
            logger.warning("too many connections; closing a new one", metadata: ["limit": "\(Self.maximumConnections)"])
            metrics.update { $0.connectionsRefused["too-many-connections", default: 0] += 1 }
            try? await connection.channel.executeThenClose { _, _ in }  // an async channel must be finished
            return .refused
        }
        let peer: EstablishedPeer
        do {
            peer = try await connection.established.get()
        } catch {
            logger.notice("peer connection refused", metadata: ["direction": "\(direction.rawValue)", "reason": "\(error)"])
            let reason = (error as? TLSError)?.code.description ?? (error as? SessionError).map { "\($0.code)" } ?? "other"
            metrics.update { $0.connectionsRefused[reason, default: 0] += 1 }
            try? await connection.channel.executeThenClose { _, _ in }
            return .refused
        }
        let quarantinedUntil = quarantine.withLock { $0[peer.node] }
        if let quarantinedUntil, ContinuousClock.now < quarantinedUntil {
            logger.notice("peer connection refused", metadata: ["peer": "\(peer.node)", "reason": "quarantined for sending forged changes"])
            metrics.update { $0.connectionsRefused["quarantined", default: 0] += 1 }
            try? await connection.channel.executeThenClose { _, outbound in
                try await outbound.write(.error(code: SessionError.Code.forgedChanges.rawValue, message: "refused for a while: forged changes"))
            }
            return .refused
        }
        do {
            try directory.admit(peer.identity.certificate)
            try await store.rememberCertificate(peer.identity.certificate, nowMillis: configuration.clock())
        } catch {
            logger.warning("could not record the peer's certificate", metadata: ["peer": "\(peer.node)", "reason": "\(error)"])
        }
        let started = ContinuousClock.now
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                let acknowledged = try await store.peers().first { $0.node == peer.node }?.acknowledgedSequence ?? 0
                // Live push starts at the log's end (reconciliation covers the rest), unless the
                // peer's organisation withdrew from agreements since it last acknowledged: those
                // changes only the stream delivers, so it starts before the first of them.
                let latest = try await store.latestSequence()
                let formerPartyBacklog = try await store.earliestOwedToFormerParty(peer.node.organisation, after: acknowledged)
                let session = PeerSession(
                    peer: peer, direction: direction, services: services, outbound: outbound,
                    acknowledged: acknowledged, streamStart: formerPartyBacklog.map { min(latest, $0 - 1) } ?? latest,
                    closeConnection: { channel.close(promise: nil) }
                )
                guard let id = registry.admit(session, close: { channel.close(promise: nil) }) else {
                    logger.info("a session with this peer already exists; closing the new one", metadata: ["peer": "\(peer.node)"])
                    throw SessionEnd.superseded
                }
                defer { registry.remove(peer.node, id: id) }
                metrics.update { $0.sessionsEstablished += 1 }
                logger.info("session established", metadata: ["peer": "\(peer.node)", "direction": "\(direction.rawValue)"])
                try await session.run(inbound: inbound)
            }
            endSession(peer, reason: "closed", error: nil)
        } catch SessionEnd.superseded {
            return .duplicate(peer.node)
        } catch {
            if let error = error as? SessionError, error.code == .forgedChanges {
                quarantine.withLock { $0[peer.node] = ContinuousClock.now + configuration.forgerQuarantine }
            }
            endSession(peer, reason: Self.reason(error), error: error)
        }
        return .ended(peer.node, lasted: ContinuousClock.now - started)
    }

    private func endSession(_ peer: EstablishedPeer, reason: String, error: (any Error)?) {
        metrics.update { $0.sessionsEnded[reason, default: 0] += 1 }
        if let error, !(error is CancellationError) {
            logger.warning("session ended", metadata: ["peer": "\(peer.node)", "reason": "\(error)"])
        } else {
            logger.info("session ended", metadata: ["peer": "\(peer.node)"])
        }
    }

    private static func reason(_ error: any Error) -> String {
        switch error {
        case is SessionError, is FrameError: "protocol"
        case SessionEnd.idle: "idle"
        case is TLSError: "tls"
        case is StoreError: "store"
        case is CancellationError: "shutdown"
        default: "error"
        }
    }

    /// Keeps a session with `endpoint`: dial, serve, back off, again.
    private func dial(_ endpoint: PeerEndpoint) async {
        var failures = 0
        var knownNode: NodeID?
        let policy = PeerPolicy(expectedOrganisation: endpoint.organisation.rawValue)
        while !Task.isCancelled {
            if let knownNode, registry.session(with: knownNode) != nil {
                await registry.waitUntilNoSession(with: knownNode)
                continue
            }
            do {
                // The async bridge is made once the connection exists: made in the initializer, it
                // would be dropped unfinished when the connect fails, which NIO treats as a bug
                // (a crash). Nothing arrives before it is in place: the peer sends no frame before
                // the TLS handshake and both hellos, round trips after the connect.
                let (channel, established) = try await ClientBootstrap(group: group)
                    .connectTimeout(.seconds(10))
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .connect(host: endpoint.host, port: endpoint.port) { channel in
                        channel.eventLoop.makeCompletedFuture { (channel, try self.installHandlers(channel, role: .client, policy: policy)) }
                    }
                let bridge: NIOAsyncChannel<WireMessage, WireMessage>
                do {
                    bridge = try await channel.eventLoop.submit { try Self.bridge(channel) }.get()
                } catch {
                    channel.close(promise: nil)
                    throw error
                }
                switch await serve((bridge, established), direction: .outbound) {
                case .refused:
                    failures += 1
                case .duplicate(let node):
                    knownNode = node
                    continue
                case .ended(let node, let lasted):
                    knownNode = node
                    failures = lasted > .seconds(10) ? 0 : failures + 1
                }
            } catch {
                failures += 1
                metrics.update { $0.dialFailures += 1 }
                if failures == 1 || failures.isMultiple(of: 20) {
                    logger.notice("cannot reach peer", metadata: ["peer": "\(endpoint)", "attempts": "\(failures)", "reason": "\(error)"])
                }
            }
            do { try await Task.sleep(for: backoff(afterFailures: failures)) } catch { return }
        }
    }

    /// Exponential backoff with full jitter within the configured bounds.
    func backoff(afterFailures failures: Int) -> Duration {
        let bounds = configuration.reconnectBackoff
        guard failures > 0 else { return bounds.lowerBound }
        let ceiling = min(bounds.upperBound, bounds.lowerBound * (1 << min(failures - 1, 16)))
        return bounds.lowerBound + (ceiling - bounds.lowerBound) * Double.random(in: 0...1)
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
