import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay on 127.0.0.1 in front of one node's listening port, which a test can stall.
///
/// Stalling stops reading on both sides of every relayed connection: bytes wait in kernel buffers
/// and neither node notices anything but silence. That lets a test stop a transfer at a point it
/// chose (a receiver can apply at most what was relayed before the stall) instead of racing it.
final class LinkProxy: Sendable {
    let port: Int
    private let listener: any Channel
    private let links = Links()

    private final class Links: Sendable {
        let state = Mutex<(stalled: Bool, channels: [any Channel])>((false, []))
    }

    init(to targetPort: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let links = self.links
        listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop).connect(host: "127.0.0.1", port: targetPort).flatMapThrowing { outbound in
                    let (toOutbound, toInbound) = Splice.pair()
                    try inbound.pipeline.syncOperations.addHandler(toOutbound)
                    try outbound.pipeline.syncOperations.addHandler(toInbound)
                    let stalled = links.state.withLock { state in
                        state.channels += [inbound, outbound]
                        return state.stalled
                    }
                    if stalled {
                        inbound.setOption(.autoRead, value: false).whenComplete { _ in }
                        outbound.setOption(.autoRead, value: false).whenComplete { _ in }
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = listener.localAddress!.port!
    }

    /// Stops relaying: from now on nothing more is read from either side of any connection.
    func stall() async throws {
        let channels = links.state.withLock { state in
            state.stalled = true
            return state.channels
        }
        for channel in channels where channel.isActive {
            try? await channel.setOption(.autoRead, value: false).get()
        }
    }

    func close() async {
        let channels = links.state.withLock { $0.channels }
        for channel in channels { try? await channel.close() }
        try? await listener.close()
    }
}

/// One direction of a relayed connection: what one channel reads, the other writes. Both channels
/// of a pair live on the same event loop, so the handlers reach each other without hopping.
private final class Splice: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: Splice?
    private var context: ChannelHandlerContext?

    static func pair() -> (Splice, Splice) {
        let (first, second) = (Splice(), Splice())
        first.partner = second
        second.partner = first
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.context?.writeAndFlush(data, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        context.fireChannelInactive()
    }
}
