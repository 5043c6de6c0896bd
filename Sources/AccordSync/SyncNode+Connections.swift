import AccordRefusals
import AccordCrypto
import AccordModel
import AccordStore
import AccordTLS
import Logging
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers

/// Connections of a `SyncNode`: the pipeline, the budget of connections whose session has not
/// started, session admission, dialling with backoff.
extension SyncNode {
    typealias Connection = (
        channel: NIOAsyncChannel<WireMessage, WireMessage>, established: EventLoopFuture<EstablishedPeer>, identity: ConnectionIdentity
    )

    /// An accepted connection: admitted to the pending budget (which may evict older strangers),
    /// then the pipeline. It leaves the budget once established or closed.
    func accept(_ channel: any Channel, policy: PeerPolicy) throws -> Connection {
        let established = channel.eventLoop.makePromise(of: EstablishedPeer.self)
        let limits = configuration.pendingConnections
        let admission = pending.admit(source: channel.remoteAddress?.ipAddress ?? "unknown") {
            established.fail(ConnectionRefusal(
                .evicted, "newer connections needed its place (at most \(limits.total) pending, \(limits.perSource) per address, "
                    + "\(PendingConnectionTable.perNode) per node)"
            ))
            channel.close(promise: nil)
        }
        let pending = self.pending
        established.futureResult.whenComplete { _ in pending.remove(admission.id) }
        channel.closeFuture.whenComplete { _ in pending.remove(admission.id) }
        try channel.pipeline.syncOperations.addHandler(FirstBytesObserver { pending.spoke(admission.id) })
        let identity = ConnectionIdentity { node in pending.authenticated(admission.id, node: node.description) }
        try installHandlers(channel, role: .server, policy: policy, established: established, identity: identity)
        return (try Self.bridge(channel), established.futureResult, identity)
    }

    /// TLS, flow control, framing and session start, with the session-start deadline.
    func installHandlers(
        _ channel: any Channel, role: TLSHandler.Role, policy: PeerPolicy, established: EventLoopPromise<EstablishedPeer>,
        identity: ConnectionIdentity, precheck: ((PeerIdentity) -> SessionError?)? = nil
    ) throws {
        let frameLimit = FrameLimit()
        let handlers = channel.pipeline.syncOperations
        try handlers.addHandler(TLSHandler(context: tls, role: role, policy: policy))
        try handlers.addHandler(IdentityObserver(identity))
        try handlers.addHandler(OutboundFlowControl(stallTimeout: TimeAmount(configuration.writeStallTimeout)))
        try handlers.addHandler(ByteToMessageHandler(FrameDecoder(limit: frameLimit)))
        try handlers.addHandler(MessageToByteHandler(FrameEncoder()))
        try handlers.addHandler(InboundFrameBudget(configuration.frameBudget))
        try handlers.addHandler(PeerSessionHandler(
            localNode: configuration.node, clock: configuration.clock, frameLimit: frameLimit, established: established,
            versions: configuration.protocolVersions, precheck: precheck
        ))
        let deadline = configuration.sessionStartTimeout
        let timeout = channel.eventLoop.scheduleTask(in: TimeAmount(deadline)) {
            established.fail(ConnectionRefusal(.sessionStartTimeout, "TLS and both hellos did not complete within \(deadline)"))
            channel.close(promise: nil)
        }
        established.futureResult.whenComplete { _ in timeout.cancel() }
    }

    /// The async bridge (its inbound buffer stops reading the socket while the session is busy).
    /// Must be called on the channel's event loop.
    static func bridge(_ channel: any Channel) throws -> NIOAsyncChannel<WireMessage, WireMessage> {
        try NIOAsyncChannel<WireMessage, WireMessage>(
            wrappingChannelSynchronously: channel,
            configuration: .init(backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8))
        )
    }

    enum ServeOutcome {
        case refused(any Error), duplicate(NodeID), ended(NodeID, lasted: Duration)
    }

    /// Runs one connection from session start to its end.
    /// - Parameter endpoint: the configured address this node dialled (nil for an accepted connection).
    func serve(_ connection: Connection, direction: SessionDirection, address: String, endpoint: PeerEndpoint? = nil) async -> ServeOutcome {
        let peer: EstablishedPeer
        do {
            peer = try await connection.established.get()
        } catch {
            refuse(connection, ConnectionRefusal.reason(of: error), error, metadata: ["direction": "\(direction.rawValue)", "address": "\(address)"])
            record(error, direction: direction, node: connection.identity.node ?? Self.subject(of: error), endpoint: endpoint)
            try? await connection.channel.executeThenClose { _, _ in }  // an async channel must be finished
            return .refused(error)
        }
        if let refusal = admissionRefusal(of: peer) {
            refuse(connection, refusal.code.description, refusal, metadata: ["peer": "\(peer.node)", "direction": "\(direction.rawValue)"])
            record(refusal, direction: direction, node: peer.node, endpoint: endpoint)
            try? await connection.channel.executeThenClose { _, outbound in
                if refusal.code == .quarantined {
                    try await outbound.write(.error(code: SessionError.Code.temporarilyRefused.rawValue, message: refusal.message))
                }
            }
            return .refused(refusal)
        }
        do {
            try directory.admit(peer.identity.certificate)
            try await store.rememberCertificate(peer.identity.certificate, nowMillis: configuration.clock())
        } catch {
            logger.warning("could not record the peer's certificate", metadata: ["peer": "\(peer.node)", "reason": "\(error)"])
        }
        let started = ContinuousClock.now
        let channel = connection.channel.channel
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
                guard let admission = registry.admit(session, close: { channel.close(promise: nil) }) else {
                    logger.info("a session with this peer already exists; closing the new one", metadata: ["peer": "\(peer.node)"])
                    if let kept = registry.session(with: peer.node) {
                        noteDuplicate(of: peer.node, keptLastHeard: kept.lastHeard, address: address)
                    }
                    throw SessionEnd.superseded
                }
                defer { registry.remove(peer.node, id: admission.id) }
                if let age = admission.replacedAfter { noteReplacement(of: peer.node, after: age, address: address) }
                metrics.update { $0.sessionsEstablished += 1 }
                logger.info("session established", metadata: ["peer": "\(peer.node)", "direction": "\(direction.rawValue)"])
                notifySession(SessionNotice(kind: .established, peer: peer.node, direction: direction, reason: nil))
                try await session.run(inbound: inbound)
            }
            endSession(peer, direction: direction, error: nil)
        } catch SessionEnd.superseded {
            return .duplicate(peer.node)
        } catch {
            // A session that broke the protocol was struck as it ended (`PeerSession.run`).
            endSession(peer, direction: direction, error: error)
            if !(error is CancellationError) { record(error, direction: direction, node: peer.node, endpoint: nil) }
        }
        return .ended(peer.node, lasted: ContinuousClock.now - started)
    }

    /// Keeps `error` as the last problem of `node` (when the connection named one) and of the
    /// configured `endpoint` dialled. A dial ended because a session runs already is no problem.
    func record(_ error: any Error, direction: SessionDirection, node: NodeID?, endpoint: PeerEndpoint?) {
        if let error = error as? SessionError, error.code == .alreadyInSession { return }
        let problem = ConnectionProblem(error, direction: direction, atMillis: configuration.clock())
        if let node { problems.record(problem, for: .node(node)) }
        if let endpoint { problems.record(problem, for: .endpoint(endpoint)) }
    }

    /// The node a refused certificate names (`PeerRefusal.subject`), if any.
    private static func subject(of error: any Error) -> NodeID? {
        guard let text = (error as? TLSError)?.refusal?.subject else { return nil }
        return NodeID(text)
    }

    /// A session of `node` replaced one that had run for `age`: a sign, if it keeps happening,
    /// of two processes running with `node`'s certificate (logged once per ten minutes).
    private func noteReplacement(of node: NodeID, after age: Duration, address: String) {
        guard duplicates.withLockedValue({ $0.replaced(node, after: age, at: .now) }) else { return }
        reportDuplicateIdentity(node, address: address)
    }

    /// A new session of `node` was closed while its kept session was heard from at
    /// `keptLastHeard`: the other sign of two processes with one certificate.
    private func noteDuplicate(of node: NodeID, keptLastHeard: ContinuousClock.Instant, address: String) {
        guard duplicates.withLockedValue({ $0.duplicateClosed(node, keptLastHeard: keptLastHeard, at: .now) }) else { return }
        reportDuplicateIdentity(node, address: address)
    }

    private func reportDuplicateIdentity(_ node: NodeID, address: String) {
        logger.warning(
            "duplicate node identity: two processes appear to run with the certificate of \(node); each keeps opening sessions while the other's runs",
            metadata: [
                "peer": "\(node)", "address": "\(address)",
                "signs": "\(DuplicateIdentityWatch.signs) or more within \(DuplicateIdentityWatch.window)",
                "remedy": "stop one of them: every node needs a certificate of its own (O=organisation, CN=node name)",
            ]
        )
    }

    /// A local reason not to start a session with an authenticated peer.
    private func admissionRefusal(of peer: EstablishedPeer) -> ConnectionRefusal? {
        if let until = penalties.refusedUntil(peer.node) {
            return ConnectionRefusal(.quarantined, "\(peer.node) broke the protocol and is refused for \(until - .now)")
        }
        if registry.count >= configuration.maximumSessions, registry.session(with: peer.node) == nil {
            return ConnectionRefusal(.tooManySessions, "\(configuration.maximumSessions) sessions are established already")
        }
        return nil
    }

    /// Logs a refused connection (summarised in a flood), then counts it under its reason: in
    /// that order, whoever sees the count finds the log line (a test that waited for the count
    /// once read the log a moment before the line was written).
    private func refuse(_ connection: Connection, _ reason: String, _ error: any Error, metadata: Logger.Metadata) {
        var metadata = metadata
        metadata["detail"] = "\(error)"
        // Two nodes that dial each other at once meet this on every healthy start: no news.
        let level: Logger.Level = reason == SessionError(.alreadyInSession, "").reason ? .info : .notice
        refusals.refused("peer connection refused", reason: reason, level: level, metadata: metadata)
        metrics.update { $0.connectionsRefused[reason, default: 0] += 1 }
    }

    private func endSession(_ peer: EstablishedPeer, direction: SessionDirection, error: (any Error)?) {
        let reason = error.map { Self.sessionEndReason($0) } ?? "closed"
        notifySession(SessionNotice(kind: .ended, peer: peer.node, direction: direction, reason: reason))
        metrics.update { $0.sessionsEnded[reason, default: 0] += 1 }
        if let error, !(error is CancellationError) {
            refusals.refused("session ended", reason: reason, metadata: ["peer": "\(peer.node)", "detail": "\(error)"])
        } else {
            logger.info("session ended", metadata: ["peer": "\(peer.node)"])
        }
    }

    static func sessionEndReason(_ error: any Error) -> String {
        switch error {
        case SessionEnd.idle: "idle"
        case is StoreError: "store"
        default: ConnectionRefusal.reason(of: error)
        }
    }

    /// Whether the node a dial of `endpoint` reached (named by its certificate, before either
    /// hello) is in a session with this node that it dialled itself. Such a dial is ended with
    /// `alreadyInSession`: left to go on, it would be the connection the dialling rule prefers
    /// and replace the working session on both sides — a catch-up under way would start again
    /// from its last acknowledgement. Called on the event loop. Learns the node at `endpoint`.
    private func alreadyInSession(_ identity: PeerIdentity, at endpoint: PeerEndpoint) -> SessionError? {
        guard let organisation = OrganisationID(rawValue: identity.organisation),
            let node = NodeID(organisation: organisation, name: identity.nodeName)
        else { return nil }
        dialled.update { $0[endpoint] = node }
        guard let existing = registry.session(with: node), existing.direction == .inbound else { return nil }
        return SessionError(.alreadyInSession, "\(configuration.node) has a session with \(node), which \(node) dialled")
    }

    /// Keeps a session with `endpoint`: dial, serve, back off, again. While a session with the
    /// node at `endpoint` runs (whichever side dialled), it does not dial.
    func dial(_ endpoint: PeerEndpoint) async {
        var failures = 0
        let policy = PeerPolicy(expectedOrganisation: endpoint.organisation.rawValue)
        while !Task.isCancelled {
            var delay: Duration?
            if let knownNode = dialled.read({ $0[endpoint] }), registry.session(with: knownNode) != nil {
                await registry.waitUntilNoSession(with: knownNode)
                continue
            }
            do {
                // The async bridge is made once the connection exists: made in the initializer, it
                // would be dropped unfinished when the connect fails, which NIO treats as a bug
                // (a crash). Nothing arrives before it is in place: the peer sends no frame before
                // the TLS handshake and both hellos, round trips after the connect.
                let (channel, established, identity) = try await ClientBootstrap(group: group)
                    .connectTimeout(.seconds(10))
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .connect(host: endpoint.host, port: endpoint.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            let established = channel.eventLoop.makePromise(of: EstablishedPeer.self)
                            let identity = ConnectionIdentity()
                            try self.installHandlers(
                                channel, role: .client, policy: policy, established: established, identity: identity,
                                precheck: { identity in self.alreadyInSession(identity, at: endpoint) }
                            )
                            return (channel, established.futureResult, identity)
                        }
                    }
                let bridge: NIOAsyncChannel<WireMessage, WireMessage>
                do {
                    bridge = try await channel.eventLoop.submit { try Self.bridge(channel) }.get()
                } catch {
                    channel.close(promise: nil)
                    throw error
                }
                // The node met at this address is known once it has authenticated, not only when
                // its session ends: `peers` shows the address for the whole session.
                established.whenSuccess { [dialled] peer in dialled.update { $0[endpoint] = peer.node } }
                switch await serve((bridge, established, identity), direction: .outbound, address: "\(endpoint.host):\(endpoint.port)", endpoint: endpoint) {
                case .refused(let error):
                    // Not a failure when the node reached here was in session with this node
                    // already: the loop waits for that session to end.
                    if let node = dialled.read({ $0[endpoint] }), registry.session(with: node) != nil { continue }
                    failures += 1
                    // A revoked certificate is not renewed by waiting: the address is tried
                    // again rarely (an operator may have issued its node a new certificate).
                    if (error as? TLSError)?.refusal?.code == .certificateRevoked {
                        delay = configuration.revokedPeerRedialInterval
                        if failures == 1 || failures.isMultiple(of: 20) {
                            logger.warning("the node at a configured peer address holds a revoked certificate; it is dialled again only every \(configuration.revokedPeerRedialInterval)", metadata: [
                                "peer": "\(endpoint)", "remedy": "remove its [[peers]] entry, or have its operator issue it a new certificate",
                            ])
                        }
                    }
                case .duplicate:
                    continue
                case .ended(_, let lasted):
                    failures = lasted > .seconds(10) ? 0 : failures + 1
                }
            } catch {
                failures += 1
                metrics.update { $0.dialFailures += 1 }
                record(error, direction: .outbound, node: nil, endpoint: endpoint)
                if failures == 1 || failures.isMultiple(of: 20) {
                    let problem = ConnectionProblem(error, direction: .outbound, atMillis: 0)
                    logger.notice("cannot reach peer", metadata: ["peer": "\(endpoint)", "attempts": "\(failures)", "reason": "\(problem.reason): \(problem.message)"])
                }
            }
            do {
                try await Task.sleep(for: delay ?? ReconnectBackoff(bounds: configuration.reconnectBackoff).delay(afterFailures: failures, jitter: .random(in: 0...1)))
            } catch {
                return
            }
        }
    }
}

/// Who a connection's TLS handshake named, for the reasons of a connection that never became a
/// session, and told to whoever needs it as soon as it is known (the pending-connection budget).
final class ConnectionIdentity: Sendable {
    private let named = NIOLockedValueBox<NodeID?>(nil)
    private let onNamed: (@Sendable (NodeID) -> Void)?

    init(onNamed: (@Sendable (NodeID) -> Void)? = nil) { self.onNamed = onNamed }

    var node: NodeID? { named.withLockedValue { $0 } }

    func name(_ node: NodeID) {
        named.withLockedValue { $0 = node }
        onNamed?(node)
    }
}

/// Passes the TLS handshake's identity to a `ConnectionIdentity`, then leaves the pipeline.
final class IdentityObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let identity: ConnectionIdentity

    init(_ identity: ConnectionIdentity) { self.identity = identity }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let peer) = event as? TLSEvent,
            let organisation = OrganisationID(rawValue: peer.organisation), let node = NodeID(organisation: organisation, name: peer.nodeName)
        {
            identity.name(node)
            context.fireUserInboundEventTriggered(event)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

@available(*, unavailable)
extension IdentityObserver: Sendable {}

/// Tells once that a connection sent its first bytes, then leaves the pipeline: a connection
/// that speaks is no longer among the first a flood of silent ones evicts.
final class FirstBytesObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let spoke: () -> Void

    init(_ spoke: @escaping () -> Void) { self.spoke = spoke }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        spoke()
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension FirstBytesObserver: Sendable {}
