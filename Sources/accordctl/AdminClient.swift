import AccordAdminAPI
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Why a command failed; `accordctl` prints the message on one line and exits with `exitCode`.
struct CommandFailure: Error, CustomStringConvertible {
    /// The daemon refused or failed the request.
    static let refused: Int32 = 1
    /// The daemon could not be reached.
    static let unreachable: Int32 = 2
    /// `sync --wait` gave up before the node was in sync.
    static let timedOut: Int32 = 3

    let exitCode: Int32
    let message: String

    var description: String { message }
}

/// A client of the admin API over its Unix socket: one connection per request, HTTP/1.1 framed by
/// NIOHTTP1, JSON bodies. Every request has a deadline: a node that is stopped (SIGSTOP) or stuck
/// still accepts connections on its socket, and a command must not hang for ever on it.
struct AdminClient {
    /// Responses larger than this are refused rather than buffered.
    static let maximumResponseBytes = 256 * 1024 * 1024
    let socketPath: String
    /// How long one request may take, from connecting to the end of the answer.
    var timeout: Duration

    /// The response body of a successful request (2xx), decoded, and its raw JSON for `--json`.
    func get<Response: Decodable>(_ path: String, as type: Response.Type = Response.self) async throws -> (Response, [UInt8]) {
        try decode(try await send(.GET, path, body: nil))
    }

    func post<Request: Encodable, Response: Decodable>(
        _ path: String, _ body: Request, as type: Response.Type = Response.self
    ) async throws -> (Response, [UInt8]) {
        try decode(try await send(.POST, path, body: Array(try AdminAPI.encoder().encode(body))))
    }

    /// A POST without a body (an action such as `/v1/reload`).
    func post<Response: Decodable>(_ path: String, as type: Response.Type = Response.self) async throws -> (Response, [UInt8]) {
        try decode(try await send(.POST, path, body: nil))
    }

    func delete<Response: Decodable>(_ path: String, as type: Response.Type = Response.self) async throws -> (Response, [UInt8]) {
        try decode(try await send(.DELETE, path, body: nil))
    }

    /// The raw body of a successful request, for `/metrics`.
    func text(_ path: String) async throws -> String {
        String(decoding: try await send(.GET, path, body: nil), as: UTF8.self)
    }

    private func decode<Response: Decodable>(_ body: [UInt8]) throws -> (Response, [UInt8]) {
        do {
            return (try AdminAPI.decoder().decode(Response.self, from: Data(body)), body)
        } catch {
            throw CommandFailure(exitCode: CommandFailure.refused, message: "accordd answered with something this accordctl cannot read (\(error)); are both the same version?")
        }
    }

    /// Reads the event stream at `path` until it ends, the daemon goes away, or `handle`
    /// returns false.
    func events(_ path: String, _ handle: (NodeEvent) throws -> Bool) async throws {
        let channel = try await connect()
        try await channel.executeThenClose { inbound, outbound in
            let headers = HTTPHeaders([("Host", "accordd"), ("Accept", "text/event-stream")])
            try await outbound.write(contentsOf: [.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)), .end(nil)])
            var parser = ServerSentEventParser()
            var failed: (status: HTTPResponseStatus, body: [UInt8])?
            for try await part in inbound {
                switch part {
                case .head(let head):
                    if !(200..<300).contains(head.status.code) { failed = (head.status, []) }
                case .body(let buffer):
                    if failed != nil {
                        failed?.body += buffer.readableBytesView.prefix(64 * 1024)
                        continue
                    }
                    for event in try parser.feed(buffer.readableBytesView) {
                        let decoded: NodeEvent
                        do {
                            decoded = try AdminAPI.decoder().decode(NodeEvent.self, from: Data(event.data.utf8))
                        } catch {
                            throw CommandFailure(exitCode: CommandFailure.refused, message: "accordd sent an event this accordctl cannot read (\(error)); are both the same version?")
                        }
                        guard try handle(decoded) else { return }
                    }
                case .end:
                    if let failed { throw Self.failure(failed.status, failed.body) }
                    return
                }
            }
        }
    }

    private func connect() async throws -> NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart> {
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .connect(unixDomainSocketPath: socketPath) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw CommandFailure(
                exitCode: CommandFailure.unreachable,
                message: "cannot reach accordd at \(socketPath): \(Self.reason(error)) (is it running? choose the socket with --socket or ACCORD_SOCKET)"
            )
        }
    }

    /// This client with a shorter deadline (a step of `sync --wait`, which has a deadline of its own).
    func within(_ limit: Duration) -> AdminClient {
        var client = self
        client.timeout = min(timeout, limit)
        return client
    }

    private func send(_ method: HTTPMethod, _ path: String, body: [UInt8]?) async throws -> [UInt8] {
        let channel = try await connect()
        let timeout = self.timeout
        return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask { try await exchange(channel, method, path, body: body) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let answer = try await group.next() ?? nil else {
                channel.channel.close(promise: nil)
                throw CommandFailure(
                    exitCode: CommandFailure.unreachable,
                    message: "accordd at \(socketPath) did not answer within \(Self.seconds(timeout)) s (is it stopped or overloaded? --timeout waits longer)"
                )
            }
            return answer
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? "\(Int(seconds))" : String(format: "%.1f", seconds)
    }

    private func exchange(
        _ channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>, _ method: HTTPMethod, _ path: String, body: [UInt8]?
    ) async throws -> [UInt8] {
        let (status, response) = try await channel.executeThenClose { inbound, outbound in
            var headers = HTTPHeaders([("Host", "accordd"), ("Accept", "application/json"), ("Connection", "close")])
            if let body {
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: "\(body.count)")
            }
            // The whole request in one write: a request without a body is complete for the server
            // once it has the head, and it may answer and close before a separate `.end` is
            // written — which then failed with "I/O on closed channel" (seen about once in 300).
            var parts: [HTTPClientRequestPart] = [.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers))]
            if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
            var status: HTTPResponseStatus?
            var response: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let head): status = head.status
                case .body(let buffer):
                    guard response.count + buffer.readableBytes <= Self.maximumResponseBytes else {
                        throw CommandFailure(exitCode: CommandFailure.refused, message: "the response is larger than \(Self.maximumResponseBytes) bytes")
                    }
                    response += buffer.readableBytesView
                case .end: return (status, response)
                }
            }
            return (status, response)
        }
        guard let status else {
            throw CommandFailure(exitCode: CommandFailure.unreachable, message: "accordd at \(socketPath) closed the connection without answering")
        }
        guard (200..<300).contains(status.code) else { throw Self.failure(status, response) }
        return response
    }

    private static func failure(_ status: HTTPResponseStatus, _ body: [UInt8]) -> CommandFailure {
        let message = (try? AdminAPI.decoder().decode(ErrorResponse.self, from: Data(body)))?.message ?? "\(status.code) \(status.reasonPhrase)"
        return CommandFailure(exitCode: CommandFailure.refused, message: message)
    }

    private static func reason(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)) }
        return "\(error)"
    }
}
