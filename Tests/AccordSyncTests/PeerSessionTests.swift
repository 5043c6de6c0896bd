import AccordModel
import AccordSync
import AccordTLS
import AccordTestSupport
import Foundation
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers
import Testing

/// Sessions over real mutual TLS on 127.0.0.1, with the example certificates of certs-example.
@Suite("Peer session start")
struct PeerSessionTests {
    let group = MultiThreadedEventLoopGroup.singleton

    static let certificates = TestCertificates.examples

    static func context(_ node: String) throws -> TLSContext {
        try TLSContext(configuration: TLSConfiguration(
            certificateChainPath: "\(certificates)/\(node).pem", privateKeyPath: "\(certificates)/\(node).key",
            trustRootsPath: "\(certificates)/ca.pem"
        ))
    }

    /// Records what reaches the top of a session pipeline.
    final class SessionObserver: ChannelInboundHandler {
        typealias InboundIn = WireMessage
        let established: EventLoopPromise<NodeID>
        let firstMessage: EventLoopPromise<WireMessage>
        let finished: EventLoopPromise<[String]>
        private var errors: [String] = []

        init(eventLoop: any EventLoop) {
            established = eventLoop.makePromise()
            firstMessage = eventLoop.makePromise()
            finished = eventLoop.makePromise()
        }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .established(let node, _) = event as? SessionEvent { established.succeed(node) }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) { firstMessage.succeed(unwrapInboundIn(data)) }

        func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append("\(error)") }

        func handlerRemoved(context: ChannelHandlerContext) {
            struct Ended: Error {}
            established.fail(Ended())
            firstMessage.fail(Ended())
            finished.succeed(errors)
        }
    }

    struct Session: Sendable {
        let channel: any Channel
        let established: EventLoopFuture<NodeID>
        let firstMessage: EventLoopFuture<WireMessage>
        let finished: EventLoopFuture<[String]>
    }

    static func install(_ channel: any Channel, tls: TLSContext, role: TLSHandler.Role, claiming node: NodeID) throws -> Session {
        let observer = SessionObserver(eventLoop: channel.eventLoop)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(TLSHandler(context: tls, role: role))
        try pipeline.addHandler(ByteToMessageHandler(FrameDecoder()))
        try pipeline.addHandler(MessageToByteHandler(FrameEncoder()))
        try pipeline.addHandler(PeerSessionHandler(localNode: node, clock: { UInt64(Date().timeIntervalSince1970 * 1000) }))
        try pipeline.addHandler(observer)
        return Session(
            channel: channel, established: observer.established.futureResult, firstMessage: observer.firstMessage.futureResult,
            finished: observer.finished.futureResult
        )
    }

    final class Accepted: Sendable {
        let sessions = NIOLockedValueBox<[Session]>([])
    }

    /// Runs `body` with a globex server and a client with `clientCertificate` claiming
    /// `claimedNode` in its hello; the server is closed when `body` returns or throws.
    func withSessions(
        clientCertificate: String, claimedNode: NodeID, _ body: (_ server: () async throws -> Session, _ client: Session) async throws -> Void
    ) async throws {
        let accepted = Accepted()
        let serverTLS = try Self.context("globex-node1")
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let session = try Self.install(channel, tls: serverTLS, role: .server, claiming: NodeID(organisation: "globex", name: "node1")!)
                    accepted.sessions.withLockedValue { $0.append(session) }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let clientTLS = try Self.context(clientCertificate)
        let promise = group.next().makePromise(of: Session.self)
        _ = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    promise.succeed(try Self.install(channel, tls: clientTLS, role: .client, claiming: claimedNode))
                }
            }
            .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
        let serverSession: () async throws -> Session = {
            var session: Session?
            try await eventually("the server accepted the connection", timeout: .seconds(5), every: .milliseconds(5)) {
                session = accepted.sessions.withLockedValue { $0.first }
                return session != nil
            }
            return session!
        }
        do {
            try await body(serverSession, try await promise.futureResult.get())
            try? await server.close()
        } catch {
            try? await server.close()
            throw error
        }
    }

    @Test("two nodes establish a session after exchanging hellos that match their certificates")
    func established() async throws {
        try await withSessions(clientCertificate: "acme-node1", claimedNode: NodeID(organisation: "acme", name: "node1")!) { server, client in
            #expect(try await client.established.get() == NodeID(organisation: "globex", name: "node1"))
            #expect(try await server().established.get() == NodeID(organisation: "acme", name: "node1"))
            // Keepalive: a ping is answered by the peer's session; the pong reaches the application.
            try await client.channel.writeAndFlush(WireMessage.ping(nonce: 77))
            #expect(try await client.firstMessage.get() == .pong(nonce: 77))
            try await client.channel.close()
        }
    }

    @Test("a hello claiming another organisation than the certificate is refused, and the peer is told why")
    func identityMismatch() async throws {
        try await withSessions(clientCertificate: "acme-node1", claimedNode: NodeID(organisation: "initech", name: "node1")!) { server, client in
            let serverErrors = try await server().finished.get()
            #expect(serverErrors.contains { $0.contains("identity-mismatch") && $0.contains("initech/node1") }, "\(serverErrors)")
            let clientErrors = try await client.finished.get()
            #expect(clientErrors.contains { $0.contains("the peer ended the session with error 2") }, "\(clientErrors)")
            #expect((try? await client.established.get()) == nil)
        }
    }
}
