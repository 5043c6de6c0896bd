public import AccordCrypto
public import AccordModel
public import AccordSync
public import AccordTLS
import Foundation
public import NIOCore
import NIOPosix
import Synchronization

/// A peer under the test's control: a valid certificate of its own organisation, then whatever
/// frames the test wants, including ones no honest node would send.
public struct HostileClient: Sendable {
    public let node: NodeID
    public let key: P256PrivateKey
    public let tls: TLSContext

    /// Messages the client buffers before it stops reading the socket.
    public var inboundBuffer = 16
    /// The protocol versions its hello offers.
    public var versions = PeerSessionHandler.supportedVersions

    /// - Parameters:
    ///   - certificate: `ORG-NODE`, the files' base name in `folder`.
    ///   - claimed: the node the client names in its hello (its certificate's by default).
    public init(certificate: String, in folder: String = TestCertificates.examples, claiming claimed: NodeID? = nil) throws {
        let parts = certificate.split(separator: "-")
        node = claimed ?? NodeID(organisation: OrganisationID(rawValue: String(parts[0]))!, name: String(parts[1]))!
        key = try P256PrivateKey(pemRepresentation: String(contentsOfFile: "\(folder)/\(certificate).key", encoding: .utf8))
        tls = try TLSContext(configuration: TLSConfiguration(
            certificateChainPath: "\(folder)/\(certificate).pem", privateKeyPath: "\(folder)/\(certificate).key", trustRootsPath: "\(folder)/ca.pem"
        ))
    }

    /// Signs `change` with this client's key, whoever the change names as its author.
    public func forge(_ change: Change) throws -> SignedChange {
        SignedChange(change: change, signature: try key.signature(for: SignedChange.signedMessage(for: change)))
    }

    /// Connects, completes the session start (TLS, hellos) and runs `body` with the session;
    /// the connection is closed when it returns.
    public func session<Result: Sendable>(port: Int, host: String = "127.0.0.1", _ body: (HostileSession) async throws -> Result) async throws -> Result {
        let established = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: EstablishedPeer.self)
        let (inboundBuffer, versions) = (self.inboundBuffer, self.versions)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = channel.pipeline.syncOperations
                    try handlers.addHandler(TLSHandler(context: tls, role: .client))
                    try handlers.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try handlers.addHandler(MessageToByteHandler(FrameEncoder()))
                    try handlers.addHandler(PeerSessionHandler(localNode: node, clock: Self.clock, established: established, versions: versions))
                    return try NIOAsyncChannel<WireMessage, WireMessage>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: inboundBuffer))
                    )
                }
            }
        do {
            _ = try await established.futureResult.get()
        } catch {
            try? await channel.executeThenClose { _, _ in }  // an async channel must be finished
            throw error
        }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(HostileSession(channel: channel.channel, inbound: inbound, outbound: outbound))
        }
    }

    /// Connects and completes the TLS handshake only, then runs `body` with the channel: what the
    /// client writes there goes below the session layer (before any hello, say).
    public func rawSession<Result: Sendable>(
        port: Int, host: String = "127.0.0.1", _ body: @Sendable (any Channel) async throws -> Result
    ) async throws -> Result {
        let handshake = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSHandler(context: tls, role: .client))
                    try channel.pipeline.syncOperations.addHandler(HandshakeObserver(handshake))
                }
            }
            .connect(host: host, port: port).get()
        defer { channel.close(promise: nil) }
        try await handshake.futureResult.get()
        return try await body(channel)
    }

    @Sendable public static func clock() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}

/// An established session driven by hand.
public final class HostileSession: @unchecked Sendable {
    public let channel: any Channel
    private var iterator: NIOAsyncChannelInboundStream<WireMessage>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<WireMessage>

    init(channel: any Channel, inbound: NIOAsyncChannelInboundStream<WireMessage>, outbound: NIOAsyncChannelOutboundWriter<WireMessage>) {
        self.channel = channel
        iterator = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    public func send(_ message: WireMessage) async throws { try await outbound.write(message) }

    /// Writes raw bytes below the frame encoder: frames no encoder would produce.
    public func sendRaw(_ bytes: [UInt8]) async throws {
        let raw = channel
        try await raw.eventLoop.flatSubmit {
            do {
                let context = try raw.pipeline.syncOperations.context(handlerType: MessageToByteHandler<FrameEncoder>.self)
                return context.writeAndFlush(NIOAny(ByteBuffer(bytes: bytes)))
            } catch {
                return raw.eventLoop.makeFailedFuture(error)
            }
        }.get()
    }

    /// The next message that is not keepalive or the node's own sync traffic; nil once the node
    /// closes the session. A node that neither answers nor closes within `timeout` fails the wait
    /// by name (the connection is closed), so a test never hangs on it.
    public func next(
        within timeout: Duration = .seconds(30), skipping skip: (WireMessage) -> Bool = HostileSession.background
    ) async throws -> WireMessage? {
        let expired = ExpiryFlag()
        let channel = channel
        let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout / .nanoseconds(1)))) {
            expired.fire()
            channel.close(promise: nil)
        }
        defer { deadline.cancel() }
        do {
            while let message = try await iterator.next() {
                if !skip(message) { return message }
            }
        } catch where expired.fired {}
        if expired.fired { throw TimedOut(what: "a message from the node within \(timeout)") }
        return nil
    }

    public static func background(_ message: WireMessage) -> Bool {
        switch message {
        case .ping, .pong, .changes, .certificates, .reconcile, .heads: true
        default: false
        }
    }
}

/// Set once by a wait's deadline (on the event loop), read by the waiting task.
private final class ExpiryFlag: Sendable {
    private let state = Atomic<Bool>(false)
    var fired: Bool { state.load(ordering: .acquiring) }
    func fire() { state.store(true, ordering: .releasing) }
}

/// Completes a promise when the TLS handshake completes (or fails it when the connection ends first).
private final class HandshakeObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var promise: EventLoopPromise<Void>?

    init(_ promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSEvent {
            promise?.succeed(())
            promise = nil
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise?.fail(error)
        promise = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise?.fail(ChannelError.ioOnClosedChannel)
        promise = nil
        context.fireChannelInactive()
    }
}
