import AccordCrypto
import AccordModel
import AccordSync
import AccordTLS
import Foundation
import NIOCore
import NIOPosix

/// A peer under the test's control: a valid certificate of its own organisation, then whatever
/// frames the test wants, including ones no honest node would send.
struct HostileClient {
    let node: NodeID
    let key: P256PrivateKey
    let tls: TLSContext

    /// Messages the client buffers before it stops reading the socket.
    var inboundBuffer = 16

    /// - Parameter claimed: the node the client names in its hello (its certificate's by default).
    init(certificate: String, claiming claimed: NodeID? = nil) throws {
        let parts = certificate.split(separator: "-")
        node = claimed ?? NodeID(organisation: OrganisationID(rawValue: String(parts[0]))!, name: String(parts[1]))!
        let path = ClusterNode.certificates
        key = try P256PrivateKey(pemRepresentation: String(contentsOfFile: "\(path)/\(certificate).key", encoding: .utf8))
        tls = try TLSContext(configuration: TLSConfiguration(
            certificateChainPath: "\(path)/\(certificate).pem", privateKeyPath: "\(path)/\(certificate).key", trustRootsPath: "\(path)/ca.pem"
        ))
    }

    /// Signs `change` with this client's key, whoever the change names as its author.
    func forge(_ change: Change) throws -> SignedChange {
        SignedChange(change: change, signature: try key.signature(for: SignedChange.signedMessage(for: change)))
    }

    /// Connects, completes the session start (TLS, hellos) and runs `body` with the session;
    /// the connection is closed when it returns.
    func session<Result: Sendable>(with target: ClusterNode, _ body: (HostileSession) async throws -> Result) async throws -> Result {
        let established = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: EstablishedPeer.self)
        let inboundBuffer = self.inboundBuffer
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: target.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = channel.pipeline.syncOperations
                    try handlers.addHandler(TLSHandler(context: tls, role: .client))
                    try handlers.addHandler(ByteToMessageHandler(FrameDecoder()))
                    try handlers.addHandler(MessageToByteHandler(FrameEncoder()))
                    try handlers.addHandler(PeerSessionHandler(localNode: node, clock: ClusterNode.clock, established: established))
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
}

/// An established session driven by hand.
final class HostileSession: @unchecked Sendable {
    let channel: any Channel
    private var iterator: NIOAsyncChannelInboundStream<WireMessage>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<WireMessage>

    init(channel: any Channel, inbound: NIOAsyncChannelInboundStream<WireMessage>, outbound: NIOAsyncChannelOutboundWriter<WireMessage>) {
        self.channel = channel
        iterator = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    func send(_ message: WireMessage) async throws { try await outbound.write(message) }

    /// Writes raw bytes below the frame encoder: frames no encoder would produce.
    func sendRaw(_ bytes: [UInt8]) async throws {
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

    /// The next message that is not keepalive or the node's own sync traffic.
    func next(skipping skip: (WireMessage) -> Bool = HostileSession.background) async throws -> WireMessage? {
        while let message = try await iterator.next() {
            if !skip(message) { return message }
        }
        return nil
    }

    static func background(_ message: WireMessage) -> Bool {
        switch message {
        case .ping, .pong, .changes, .certificates, .reconcile, .heads: true
        default: false
        }
    }
}
