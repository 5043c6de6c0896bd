import AccordTLS
import AccordTestSupport
import NIOCore
import NIOEmbedded
import Testing

/// Two `TLSHandler`s on paired `EmbeddedChannel`s, bytes moved between them by hand (as
/// swift-nio-ssl's own tests do): every step of the state machine, deterministic, no sockets.
@Suite("TLS handler on embedded channels")
struct EmbeddedTLSTests {
    let pki: TestPKI

    init() async throws { pki = try await TestPKI.shared }

    /// A client and a server channel, each with a `TLSHandler` and a recorder above it.
    final class Pair {
        let client = EmbeddedChannel()
        let server = EmbeddedChannel()
        let clientEvents = Recorder()
        let serverEvents = Recorder()

        deinit {
            // Both ends close (close_notify each way, or the close timeout on the embedded
            // clock), then finish: that drops what is still buffered and breaks the channels'
            // cycles, so nothing leaks.
            client.close(promise: nil)
            server.close(promise: nil)
            try? exchange()
            for channel in [client, server] {
                channel.embeddedEventLoop.advanceTime(by: .seconds(10))
                _ = try? channel.finish(acceptAlreadyClosed: true)
            }
        }

        init(client clientContext: TLSContext, server serverContext: TLSContext, serverPolicy: PeerPolicy = .anyMember) throws {
            try client.pipeline.syncOperations.addHandler(TLSHandler(context: clientContext, role: .client))
            try client.pipeline.syncOperations.addHandler(clientEvents)
            try server.pipeline.syncOperations.addHandler(TLSHandler(context: serverContext, role: .server, policy: serverPolicy))
            try server.pipeline.syncOperations.addHandler(serverEvents)
        }

        /// Activates both ends and moves bytes between them until neither has anything to say.
        func connect() throws {
            try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
            try exchange()
        }

        /// Moves every byte each end wrote to the other, until both are quiet.
        func exchange() throws {
            var moved = true
            while moved {
                moved = false
                for (from, to) in [(client, server), (server, client)] {
                    while let bytes = try from.readOutbound(as: ByteBuffer.self) {
                        moved = true
                        if to.isActive { try to.writeInbound(bytes) }
                    }
                }
            }
        }
    }

    /// What reaches the top of a pipeline.
    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private(set) var peer: PeerIdentity?
        private(set) var closeNotify = false
        private(set) var errors: [TLSError] = []
        private(set) var received = ByteBuffer()

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            switch event as? TLSEvent {
            case .handshakeCompleted(let identity)?: peer = identity
            case .closeNotifyReceived?: closeNotify = true
            case nil: break
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received.writeBuffer(&buffer)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if let error = error as? TLSError { errors.append(error) }
        }
    }

    @Test("both sides complete the handshake, verify each other, and move data only when the pipeline asks to read")
    func handshakeAndData() throws {
        let pair = try Pair(client: pki.context("acme-node1"), server: pki.context("globex-node1"))
        try pair.connect()
        #expect(pair.clientEvents.peer?.organisation == "globex")
        #expect(pair.serverEvents.peer?.organisation == "acme")

        // Written before anyone asked to read: nothing goes up until the server's pipeline reads.
        try pair.client.writeAndFlush(ByteBuffer(string: "terms")).wait()
        try pair.exchange()
        #expect(pair.serverEvents.received.readableBytes == 0, "nothing decrypted without a read request")
        pair.server.read()
        #expect(String(buffer: pair.serverEvents.received) == "terms")
    }

    @Test("writes made before the handshake completes are held, then delivered in order; beyond the bound they fail")
    func earlyWrites() throws {
        var small = pki.configuration("acme-node1")
        small.maximumBufferedPlaintextBytes = 8
        let pair = try Pair(client: TLSContext(configuration: small), server: pki.context("globex-node1"))
        let first = pair.client.writeAndFlush(ByteBuffer(string: "one"))
        let second = pair.client.writeAndFlush(ByteBuffer(string: "two"))
        let tooMuch = pair.client.writeAndFlush(ByteBuffer(string: "and more"))
        #expect(throws: TLSError.self) { try tooMuch.wait() }
        try pair.connect()
        try first.wait()
        try second.wait()
        try pair.exchange()
        pair.server.read()
        #expect(String(buffer: pair.serverEvents.received) == "onetwo")
    }

    @Test("closing sends close_notify; the peer answers it and both end cleanly")
    func cleanClose() throws {
        let pair = try Pair(client: pki.context("acme-node1"), server: pki.context("globex-node1"))
        try pair.connect()
        let closed = pair.client.close()
        try pair.exchange()
        pair.server.read()
        try pair.exchange()
        try closed.wait()
        #expect(pair.serverEvents.closeNotify, "the server saw the client's close_notify")
        #expect(!pair.server.isActive && !pair.client.isActive)
        #expect(pair.clientEvents.errors.isEmpty && pair.serverEvents.errors.isEmpty)
    }

    @Test("a refused certificate fails the server's handshake with its rule, and the client learns of it")
    func refusal() throws {
        let pair = try Pair(
            client: pki.context("acme-node1"), server: pki.context("globex-node1"), serverPolicy: PeerPolicy(allowedOrganisations: ["initech"])
        )
        try pair.connect()
        #expect(pair.serverEvents.errors.first?.refusal?.code == .organisationNotConfigured)
        #expect(!pair.server.isActive)
        pair.client.read()
        try pair.exchange()
        #expect(pair.clientEvents.errors.first?.refusal?.code == .refusedByPeer, "\(pair.clientEvents.errors)")
    }

    @Test("a handshake that stalls ends at the timeout")
    func handshakeTimeout() throws {
        let pair = try Pair(client: pki.context("acme-node1"), server: pki.context("globex-node1", handshakeTimeout: 5))
        try pair.server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        pair.server.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(pair.serverEvents.errors.first?.code == .handshakeTimeout)
        #expect(!pair.server.isActive)
    }

    @Test("a TCP close in the middle of the session is an unclean shutdown")
    func uncleanShutdown() throws {
        let pair = try Pair(client: pki.context("acme-node1"), server: pki.context("globex-node1"))
        try pair.connect()
        pair.server.pipeline.fireChannelInactive()
        #expect(pair.serverEvents.errors.first?.code == .uncleanShutdown)
    }
}
