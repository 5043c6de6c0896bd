import AccordSync
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Why the console's port could not be opened.
public struct ConsoleListenError: Error, CustomStringConvertible {
    public let address: String
    public let reason: String
    /// Another process listens there already (EADDRINUSE).
    public var inUse = false
    public var description: String { "console address \(address): \(reason)" }
}

/// The web console's HTTP/1.1 listener on TCP (`[console] address`, loopback in the examples).
/// Unlike the admin socket, anyone who can reach the port can connect, so everything a client
/// controls is bounded: connections at once, the time to send a whole request, the body size, and
/// the time a client may leave a response unread (`HTTPExchange.stallTimeout`).
final class ConsoleServer: Sendable {
    static let maximumConnections = 64
    /// A whole request (head and body) must arrive within this of the connection opening.
    static let requestTimeout: TimeAmount = .seconds(10)
    /// An idle keep-alive connection is closed after this.
    static let keepAliveTimeout: TimeAmount = .seconds(60)

    let port: Int
    private let listener: NIOAsyncChannel<HTTPListener.Connection, Never>
    private let logger: Logger
    private let refusals: RefusalLog

    init(
        host: String, port: Int, logger: Logger, refusals: RefusalLog, group: MultiThreadedEventLoopGroup = .singleton
    ) async throws(ConsoleListenError) {
        do {
            listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try HTTPListener.connection(channel, maximumHeaderBytes: 16 * 1024, extraHandler: RequestDeadlineHandler())
                    }
                }
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            throw ConsoleListenError(address: "\(host):\(port)", reason: "in use by another process", inUse: true)
        } catch {
            throw ConsoleListenError(address: "\(host):\(port)", reason: "cannot listen: \(error)")
        }
        self.port = listener.channel.localAddress?.port ?? port
        self.logger = logger
        self.refusals = refusals
    }

    func run(_ handler: @escaping @Sendable (AdminRequest) async -> AdminResponse) async throws {
        try await HTTPListener(
            listener: listener, maximumConnections: Self.maximumConnections, refusalReason: "too-many-console-connections",
            maximumBodyBytes: ConsoleApplication.maximumBodyBytes, logger: logger, refusals: refusals
        ).run(handler)
    }
}

/// Closes a connection whose next request has not arrived whole in time: `requestTimeout` from
/// the connection opening, `keepAliveTimeout` from the end of its previous response. A client
/// that trickles a request byte by byte (slowloris) thus holds a connection for seconds, not for
/// ever. No deadline runs while a response is being written, so an event stream lives on.
private final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var deadline: Scheduled<Void>?

    func channelActive(context: ChannelHandlerContext) {
        arm(context, ConsoleServer.requestTimeout)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: arm(context, ConsoleServer.requestTimeout)
        case .end: disarm()
        case .body: break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, ConsoleServer.keepAliveTimeout) }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

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
