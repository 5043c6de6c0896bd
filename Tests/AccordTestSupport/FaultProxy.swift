import NIOCore
public import NIOPosix
import NIOConcurrencyHelpers
import Synchronization

/// A TCP relay on 127.0.0.1 in front of one node's listening port that can misbehave on command:
/// pass bytes through, delay them, stall (stop reading both sides: bytes wait in kernel buffers,
/// neither node sees anything but silence), stall one direction only (a one-way partition: what
/// one side sends arrives, what the other sends waits), or cut (close every connection, refuse
/// new ones).
///
/// With `stallAfter`, it stalls by itself once it has relayed that many bytes from the node, so a
/// test can stop a transfer at a point it chose instead of racing it.
public final class FaultProxy: Sendable {
    public enum Mode: Sendable, Equatable {
        case pass
        /// Every chunk waits this long (order within a connection is kept).
        case delay(Duration)
        case stall
        /// Bytes towards the node behind the proxy wait; bytes from it pass.
        case stallToNode
        /// Bytes from the node behind the proxy wait; bytes towards it pass.
        case stallFromNode
        case cut

        /// Whether the side that reads from the dialling client (`fromNode` false) or from the
        /// node (`fromNode` true) reads in this mode.
        func reads(fromNode: Bool) -> Bool {
            switch self {
            case .pass, .delay: true
            case .stall, .cut: false
            case .stallToNode: fromNode
            case .stallFromNode: !fromNode
            }
        }
    }

    public let port: Int
    private let listener: any Channel
    private let links: Links

    /// The proxy's state, shared with its connections.
    fileprivate final class Links: Sendable {
        /// Each relayed connection's two channels: the one from the dialling client, and the one to the node.
        let state = NIOLockedValueBox<(mode: Mode, channels: [(client: any Channel, node: any Channel)])>((.pass, []))
        /// Bytes still to relay from the node before stalling by itself.
        let budget: Synchronization.Atomic<Int>

        init(budget: Int?) { self.budget = Synchronization.Atomic(budget ?? .max) }

        var mode: Mode { state.withLockedValue { $0.mode } }
    }

    public init(to targetPort: Int, stallAfter bytes: Int? = nil, group: MultiThreadedEventLoopGroup = .singleton) async throws {
        links = Links(budget: bytes)
        let links = self.links
        listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                if links.mode == .cut { return inbound.close() }
                return ClientBootstrap(group: inbound.eventLoop).connect(host: "127.0.0.1", port: targetPort).flatMapThrowing { outbound in
                    let (toNode, fromNode) = Splice.pair(links)
                    try inbound.pipeline.syncOperations.addHandler(toNode)
                    try outbound.pipeline.syncOperations.addHandler(fromNode)
                    let mode = links.state.withLockedValue { state in
                        state.channels.removeAll { !$0.client.isActive && !$0.node.isActive }
                        state.channels.append((inbound, outbound))
                        return state.mode
                    }
                    if !mode.reads(fromNode: false) { inbound.setOption(.autoRead, value: false).whenComplete { _ in } }
                    if !mode.reads(fromNode: true) { outbound.setOption(.autoRead, value: false).whenComplete { _ in } }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = listener.localAddress!.port!
    }

    public var mode: Mode { links.mode }

    public func set(_ mode: Mode) {
        let channels = links.state.withLockedValue { state in
            state.mode = mode
            return state.channels
        }
        for pair in channels {
            if mode == .cut {
                pair.client.close(promise: nil)
                pair.node.close(promise: nil)
                continue
            }
            pair.client.setOption(.autoRead, value: mode.reads(fromNode: false)).whenComplete { _ in }
            pair.node.setOption(.autoRead, value: mode.reads(fromNode: true)).whenComplete { _ in }
        }
    }

    public func close() async {
        let channels = links.state.withLockedValue { $0.channels }
        for pair in channels {
            try? await pair.client.close()
            try? await pair.node.close()
        }
        try? await listener.close()
    }
}

/// One direction of a relayed connection: what one channel reads, the other writes. Both channels
/// of a pair live on the same event loop, so the handlers reach each other without hopping.
private final class Splice: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let links: FaultProxy.Links
    /// Relays bytes from the node (and spends the byte budget).
    private let isFromNode: Bool
    private var partner: Splice?
    private var context: ChannelHandlerContext?
    /// When the last delayed chunk is due, so that a shorter delay never overtakes it.
    private var lastDue = NIODeadline.uptimeNanoseconds(0)

    private init(links: FaultProxy.Links, isFromNode: Bool) {
        self.links = links
        self.isFromNode = isFromNode
    }

    /// The splice towards the node, and the one from it.
    static func pair(_ links: FaultProxy.Links) -> (Splice, Splice) {
        let (toNode, fromNode) = (Splice(links: links, isFromNode: false), Splice(links: links, isFromNode: true))
        toNode.partner = fromNode
        fromNode.partner = toNode
        return (toNode, fromNode)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if isFromNode {
            let before = links.budget.subtract(buffer.readableBytes, ordering: .relaxed).oldValue
            if before < buffer.readableBytes {
                guard before > 0, let prefix = buffer.readSlice(length: before) else { return stallBoth(context) }
                buffer = prefix
                stallBoth(context)
            }
        }
        var delay = TimeAmount.zero
        if case .delay(let duration) = links.mode {
            delay = .nanoseconds(Int64(duration.components.seconds) * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        }
        let now = NIODeadline.now()
        // Chunks still waiting from an earlier delay go first: a TCP stream never reorders.
        guard delay > .zero || lastDue > now else {
            partner?.context?.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            return
        }
        let due = max(now + delay, lastDue)
        lastDue = due
        let chunk = buffer
        context.eventLoop.assumeIsolated().scheduleTask(deadline: due) { [weak self] in
            guard let self, let target = self.partner?.context else { return }
            target.writeAndFlush(self.wrapOutboundOut(chunk), promise: nil)
        }
    }

    private func stallBoth(_ context: ChannelHandlerContext) {
        context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
        partner?.context?.channel.setOption(.autoRead, value: false).whenComplete { _ in }
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        context.fireChannelInactive()
    }
}
