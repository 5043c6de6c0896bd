import AccordRefusals
import AccordSync
import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The bounds every HTTP connection of a listener lives within, as channel handlers placed after
/// the HTTP codec (`HTTP1Channel.Configuration.additionalChannelHandlers`): what a client that
/// opens many connections, trickles a request or never reads its answer costs the node.
enum ConnectionGuards {
    /// How long a client may leave an answer (or an event stream) unread before its connection
    /// is closed: a slow reader keeps it, one that stopped reading holds no connection, task or
    /// buffer for ever.
    static let stallTimeout: TimeAmount = .seconds(10)
}

/// Counts a listener's open connections; one beyond `limit` is closed at once, its refusal logged
/// (summarised in a flood) under `reason`.
final class ConnectionCount: Sendable {
    let limit: Int
    let reason: String
    private let refusals: RefusalLog
    private let count = Atomic<Int>(0)

    init(limit: Int, reason: String, refusals: RefusalLog) {
        self.limit = limit
        self.reason = reason
        self.refusals = refusals
    }

    var open: Int { count.load(ordering: .relaxed) }

    /// A handler for one new connection (the listener's `additionalChannelHandlers` make one each).
    func handler() -> ConnectionLimitHandler { ConnectionLimitHandler(self) }

    fileprivate func enter() -> Bool {
        guard count.add(1, ordering: .relaxed).newValue <= limit else {
            count.subtract(1, ordering: .relaxed)
            refusals.refused("HTTP connection refused", reason: reason, metadata: ["limit": "\(limit)"])
            return false
        }
        return true
    }

    fileprivate func leave() { count.subtract(1, ordering: .relaxed) }
}

/// Admits its connection into a `ConnectionCount`, or closes it when the count is full.
final class ConnectionLimitHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let count: ConnectionCount
    private var admitted = false

    init(_ count: ConnectionCount) { self.count = count }

    func handlerAdded(context: ChannelHandlerContext) {
        admitted = count.enter()
        if !admitted { context.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if admitted { count.leave() }
        admitted = false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A refused connection's bytes never reach a handler.
        if admitted { context.fireChannelRead(data) }
    }
}

/// Closes a connection whose peer leaves the answer unread (the channel not writable) for
/// `ConnectionGuards.stallTimeout`.
final class WriteStallHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private var cutOff: Scheduled<Void>?

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            cutOff?.cancel()
            cutOff = nil
        } else if cutOff == nil {
            let channel = context.channel
            cutOff = context.eventLoop.scheduleTask(in: ConnectionGuards.stallTimeout) { channel.close(promise: nil) }
        }
        context.fireChannelWritabilityChanged()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cutOff?.cancel()
        cutOff = nil
    }
}

/// Closes a connection whose next request has not arrived whole in time: `requestTimeout` from
/// the connection opening (or from the request's head), `keepAliveTimeout` from the end of its
/// previous answer. A client that trickles a request byte by byte (slowloris) thus holds a
/// connection for seconds, not for ever. No deadline runs while an answer is being written, so an
/// event stream lives on.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let requestTimeout: TimeAmount
    private let keepAliveTimeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(requestTimeout: TimeAmount, keepAliveTimeout: TimeAmount) {
        self.requestTimeout = requestTimeout
        self.keepAliveTimeout = keepAliveTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) { arm(context, requestTimeout) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, requestTimeout)
        case .end: disarm()
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, keepAliveTimeout) }
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    private func arm(_ context: ChannelHandlerContext, _ timeout: TimeAmount) {
        disarm()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    private func disarm() {
        deadline?.cancel()
        deadline = nil
    }
}

@available(*, unavailable)
extension ConnectionLimitHandler: Sendable {}
@available(*, unavailable)
extension WriteStallHandler: Sendable {}
@available(*, unavailable)
extension RequestDeadlineHandler: Sendable {}
