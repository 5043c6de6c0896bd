public import NIOCore

/// Makes a peer that does not read pay for it, instead of this node's memory.
///
/// Everything a node writes on a connection is caused by what it read there (pongs, answers,
/// acknowledgements) or is sent with backpressure (changes, through the async writer). So while
/// the channel is not writable — the peer is not reading what is already queued — this handler
/// holds back read requests: nothing more is read, so nothing more is answered, and TCP flow
/// control stops the peer in turn. A channel that stays unwritable for `stallTimeout` is closed
/// with `PeerNotReading`: a peer that reads nothing holds a bounded, small amount (the socket
/// buffers and NIO's write high-water mark) and then loses its connection.
///
/// Sits between TLS and the frame decoder, on the connection's event loop.
public final class OutboundFlowControl: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        /// Reads pass through.
        case flowing
        /// The channel is unwritable; a read request made meanwhile waits if `readHeld`.
        case stalled(readHeld: Bool, timer: Scheduled<Void>?)
    }

    private let stallTimeout: TimeAmount
    private var state = State.flowing

    public init(stallTimeout: TimeAmount) {
        self.stallTimeout = stallTimeout
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive, !context.channel.isWritable { stall(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        if case .stalled(_, let timer) = state { timer?.cancel() }
        state = .flowing
    }

    public func read(context: ChannelHandlerContext) {
        switch state {
        case .flowing: context.read()
        case .stalled(_, let timer): state = .stalled(readHeld: true, timer: timer)
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            if case .stalled(let readHeld, let timer) = state {
                timer?.cancel()
                state = .flowing
                if readHeld { context.read() }
            }
        } else {
            stall(context: context)
        }
        context.fireChannelWritabilityChanged()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if case .stalled(_, let timer) = state { timer?.cancel() }
        state = .flowing
        context.fireChannelInactive()
    }

    private func stall(context: ChannelHandlerContext) {
        guard case .flowing = state else { return }
        let timeout = stallTimeout
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard case .stalled = state else { return }
            context.fireErrorCaught(PeerNotReading(timeout: timeout))
            context.close(promise: nil)
        }
        state = .stalled(readHeld: false, timer: timer)
    }
}

@available(*, unavailable)
extension OutboundFlowControl: Sendable {}

/// The peer read nothing of what this node wrote for the stall timeout.
public struct PeerNotReading: Error, Hashable, Sendable, CustomStringConvertible {
    public let timeout: TimeAmount

    public var description: String {
        "the peer read nothing of what this node sent for \(timeout.nanoseconds / 1_000_000) ms; closing the connection"
    }
}
