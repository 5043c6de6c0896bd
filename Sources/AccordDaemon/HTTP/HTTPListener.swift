import Glibc
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOConcurrencyHelpers

/// One HTTP/1.1 listener of the node on Hummingbird — the admin API on its Unix socket, the
/// console on its TCP port — within the bounds of `ConnectionGuards`: at most `connections.limit`
/// connections at once (one more is closed and the refusal logged), a connection whose client
/// leaves its answer unread for 10 s closed, and on the console a deadline for each request
/// (slowloris).
struct HTTPListener: Sendable {
    enum Address: Sendable {
        case unixSocket(AdminSocket)
        case tcp(host: String, port: Int, field: String)
    }

    let responder: RouterResponder<AccordRequestContext>
    let address: Address
    let connections: ConnectionCount
    /// The console's: how long a request may take to arrive whole, and an idle connection to stay.
    let requestDeadlines: (request: TimeAmount, keepAlive: TimeAmount)?
    let logger: Logger

    /// Serves until a graceful shutdown lets the requests in flight finish; calls `started` once
    /// it listens.
    ///
    /// - Throws: `StartupError` when the address cannot be listened on (75 when another process
    ///   holds it), `AdminSocketError` when the socket cannot be put in place.
    func run(started: @escaping @Sendable () -> Void) async throws {
        let (connections, deadlines) = (connections, requestDeadlines)
        let configuration = HTTP1Channel.Configuration(additionalChannelHandlers: Self.guards(connections, deadlines))
        let bindAddress: BindAddress
        switch address {
        case .unixSocket(let socket): bindAddress = .unixDomainSocket(path: socket.unplacedPath)
        case .tcp(let host, let port, _): bindAddress = .hostname(host, port: port)
        }
        let placing = NIOLockedValueBox<(any Error)?>(nil)
        let address = self.address
        let application = Application(
            responder: responder, server: .http1(configuration: configuration),
            configuration: ApplicationConfiguration(address: bindAddress, backlog: 64, reuseAddress: true),
            onServerRunning: { channel in
                if case .unixSocket(let socket) = address {
                    do {
                        try socket.place()
                    } catch {
                        placing.withLockedValue { $0 = error }
                        channel.close(promise: nil)
                        return
                    }
                }
                started()
            },
            logger: logger
        )
        defer { if case .unixSocket(let socket) = address { socket.remove() } }
        do {
            try await application.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE {
            guard case .tcp(let host, let port, let field) = address else { throw error }
            throw StartupError(exitCode: StartupError.addressInUse, message: "\(field): \(host):\(port) is in use by another process")
        }
        if let error = placing.withLockedValue({ $0 }) { throw error }
    }

    /// The handlers each new connection gets after the HTTP codec.
    private static func guards(
        _ connections: ConnectionCount, _ deadlines: (request: TimeAmount, keepAlive: TimeAmount)?
    ) -> [any RemovableChannelHandler] {
        var handlers: [any RemovableChannelHandler] = [connections.handler(), WriteStallHandler()]
        if let deadlines { handlers.append(RequestDeadlineHandler(requestTimeout: deadlines.request, keepAliveTimeout: deadlines.keepAlive)) }
        return handlers
    }
}
