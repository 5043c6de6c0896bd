import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay on 127.0.0.1 in front of one node's listening port.
///
/// With `stallAfter`, it stops relaying once it has passed that many bytes from the node to its
/// clients: reading stops on both sides, bytes wait in kernel buffers, and neither node notices
/// anything but silence. A test can so stop a transfer at a point it chose instead of racing it
/// (polling for progress is too slow on a loaded machine).
final class LinkProxy: Sendable {
    let port: Int
    private let listener: any Channel
    private let links: Links

    /// The proxy's connections and byte budget, shared with the channel initialiser.
    fileprivate final class Links: Sendable {
        let channels = Mutex<[any Channel]>([])
        /// Bytes still to relay from the node before stalling.
        let budget: Atomic<Int>
        let isLimited: Bool

        init(budget: Int?) {
            self.budget = Atomic(budget ?? .max)
            isLimited = budget != nil
        }
    }

    init(to targetPort: Int, stallAfter bytes: Int? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        links = Links(budget: bytes)
        let links = self.links
        listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop).connect(host: "127.0.0.1", port: targetPort).flatMapThrowing { outbound in
                    let (toOutbound, toInbound) = Splice.pair(budget: links.isLimited ? links : nil)
                    try inbound.pipeline.syncOperations.addHandler(toOutbound)
                    try outbound.pipeline.syncOperations.addHandler(toInbound)
                    links.channels.withLock { $0 += [inbound, outbound] }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = listener.localAddress!.port!
    }

    func close() async {
        let channels = links.channels.withLock { $0 }
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
    /// For the direction from the node: the shared byte budget, once spent nothing more is relayed.
    private var links: LinkProxy.Links?

    /// The first splice relays towards the node, the second from it.
    static func pair(budget: LinkProxy.Links?) -> (Splice, Splice) {
        let (first, second) = (Splice(), Splice())
        first.partner = second
        second.partner = first
        second.links = budget
        return (first, second)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let links else {
            partner?.context?.writeAndFlush(data, promise: nil)
            return
        }
        var buffer = unwrapInboundIn(data)
        let before = links.budget.subtract(buffer.readableBytes, ordering: .relaxed).oldValue
        if before >= buffer.readableBytes {
            partner?.context?.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            return
        }
        if before > 0, let prefix = buffer.readSlice(length: before) {
            partner?.context?.writeAndFlush(wrapOutboundOut(prefix), promise: nil)
        }
        context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        partner?.context?.channel.setOption(.autoRead, value: false).whenComplete { _ in }
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        context.fireChannelInactive()
    }
}
