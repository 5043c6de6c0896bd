import AccordSync
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Accepts HTTP connections on a bound listener (the admin socket, the console's TCP port) and
/// serves each with `HTTPExchange`, at most `maximumConnections` at a time: one beyond them is
/// closed at once, and the refusal logged (summarised in a flood) under `refusalReason`.
struct HTTPListener: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    let listener: NIOAsyncChannel<Connection, Never>
    let maximumConnections: Int
    let refusalReason: String
    let maximumBodyBytes: Int
    let logger: Logger
    let refusals: RefusalLog

    /// An accepted channel made an HTTP/1.1 server connection: NIOHTTP1's codec with headers
    /// bounded to `maximumHeaderBytes`, then `extraHandler` if any. Runs on the channel's loop.
    static func connection(
        _ channel: any Channel, maximumHeaderBytes: Int, extraHandler: (any ChannelHandler)? = nil
    ) throws -> Connection {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = maximumHeaderBytes
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withPipeliningAssistance: true, withErrorHandling: true,
            withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits
        )
        if let extraHandler { try channel.pipeline.syncOperations.addHandler(extraHandler) }
        return try NIOAsyncChannel(wrappingChannelSynchronously: channel)
    }

    /// Serves until cancelled, then closes the listener.
    func run(_ handler: @escaping @Sendable (AdminRequest) async -> AdminResponse) async throws {
        let active = ConnectionCount()
        try await withTaskCancellationHandler {
            try await listener.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        guard active.enter(limit: maximumConnections) else {
                            refusals.refused("HTTP connection refused", reason: refusalReason, metadata: ["limit": "\(maximumConnections)"])
                            try? await connection.channel.close()
                            continue
                        }
                        group.addTask {
                            let remote = connection.channel.remoteAddress?.ipAddress
                            await HTTPExchange.serve(connection, maximumBodyBytes: maximumBodyBytes, remoteAddress: remote, logger: logger, handler)
                            active.leave()
                        }
                    }
                }
            }
        } onCancel: {
            listener.channel.close(promise: nil)
        }
    }
}

private final class ConnectionCount: Sendable {
    private let count = Atomic<Int>(0)

    func enter(limit: Int) -> Bool {
        guard count.add(1, ordering: .relaxed).newValue <= limit else {
            count.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() { count.subtract(1, ordering: .relaxed) }
}
