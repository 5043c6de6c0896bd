import AccordAdminAPI
import Foundation
import Logging
import NIOCore
public import NIOHTTP1

/// One HTTP request, whole: the body has been read (and bounded) before a handler sees it.
public struct AdminRequest: Sendable {
    public let method: HTTPMethod
    /// The path split at `/`, without empty parts: `/v1/agreements/ID` → `["v1", "agreements", "ID"]`.
    public let path: [String]
    public let query: [String: String]
    public let body: [UInt8]
    public var headers: HTTPHeaders = [:]
    /// The client's address (nil on the Unix socket).
    public var remoteAddress: String? = nil

    public init(method: HTTPMethod, path: [String], query: [String: String] = [:], body: [UInt8] = [], headers: HTTPHeaders = [:]) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        self.headers = headers
    }
}

public struct AdminResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]
    /// Further headers (`Set-Cookie`, `Location`, security headers…).
    public var headers: [(name: String, value: String)] = []
    /// A body written over time instead of `body` (server-sent events); the connection closes
    /// when it returns.
    public var stream: ResponseStream?

    public init(status: HTTPResponseStatus = .ok, contentType: String = "application/json", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// A response body produced over time: `write` is called with a function that sends a chunk (and
/// waits while the client does not read, so a reader that stalls stalls the producer, never
/// memory). It returns when the body is complete or the client is gone.
public struct ResponseStream: Sendable {
    public let write: @Sendable (_ send: @escaping @Sendable ([UInt8]) async throws -> Void) async throws -> Void

    public init(write: @escaping @Sendable (_ send: @escaping @Sendable ([UInt8]) async throws -> Void) async throws -> Void) {
        self.write = write
    }
}

/// Serves HTTP/1.1 requests on one connection (NIOHTTP1 parses; nothing here does), for the
/// admin socket and the web console alike.
enum HTTPExchange {
    /// How long one write may wait for the client to read before the connection is closed: a
    /// client that reads slowly keeps its answer (or event stream), one that stopped reading
    /// altogether does not hold a connection and a task for ever.
    static let stallTimeout: TimeAmount = .seconds(10)

    static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, maximumBodyBytes: Int,
        remoteAddress: String? = nil, logger: Logger, _ handler: @Sendable (AdminRequest) async -> AdminResponse
    ) async {
        // Parts are written on the channel itself, each awaited until the socket took it: what
        // the async writer hands on is only queued, and closing the connection (after a response
        // with `Connection: close`, or a stream) would then drop whatever the client had not yet
        // read, cutting large answers short for a client that reads slowly. A client that reads
        // nothing for `stallTimeout` is cut off: it keeps no connection, task or buffer for ever.
        let channel = connection.channel
        @Sendable func write(_ part: HTTPServerResponsePart) async throws {
            let cutOff = channel.eventLoop.scheduleTask(in: stallTimeout) { channel.close(promise: nil) }
            defer { cutOff.cancel() }
            try await channel.writeAndFlush(part).get()
        }
        do {
            try await connection.executeThenClose { inbound, _ in
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        (head, body, tooLarge) = (requestHead, [], false)
                    case .body(let buffer):
                        if body.count + buffer.readableBytes > maximumBodyBytes { tooLarge = true } else { body += buffer.readableBytesView }
                    case .end:
                        guard let requestHead = head else { continue }
                        let response: AdminResponse
                        if tooLarge {
                            response = AdminFailure(.payloadTooLarge, "request-too-large", "request bodies are limited to \(maximumBodyBytes) bytes").response
                        } else {
                            var request = request(requestHead, body: body)
                            request.remoteAddress = remoteAddress
                            response = await handler(request)
                        }
                        let closes = !requestHead.isKeepAlive || tooLarge || response.stream != nil
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: response.contentType)
                        if response.stream == nil { headers.add(name: "Content-Length", value: "\(response.body.count)") }
                        for header in response.headers { headers.add(name: header.name, value: header.value) }
                        if closes { headers.add(name: "Connection", value: "close") }
                        try await write(.head(HTTPResponseHead(version: requestHead.version, status: response.status, headers: headers)))
                        if let stream = response.stream {
                            try await stream.write { chunk in try await write(.body(.byteBuffer(ByteBuffer(bytes: chunk)))) }
                        } else {
                            try await write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                        }
                        try await write(.end(nil))
                        if closes { return }
                        head = nil
                    }
                }
            }
        } catch {
            logger.debug("HTTP connection ended", metadata: ["error": "\(error)"])
        }
    }

    private static func request(_ head: HTTPRequestHead, body: [UInt8]) -> AdminRequest {
        let components = URLComponents(string: head.uri)
        let query = formFields(components?.percentEncodedQuery ?? "")
        let path = (components?.percentEncodedPath ?? head.uri).split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
        return AdminRequest(method: head.method, path: path, query: query, body: body, headers: head.headers)
    }

    /// Fields of a query string or an `application/x-www-form-urlencoded` body: `+` is a space,
    /// the rest percent-encoded, as browsers send forms.
    static func formFields(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String { text.replacing("+", with: " ").removingPercentEncoding ?? "" }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}
