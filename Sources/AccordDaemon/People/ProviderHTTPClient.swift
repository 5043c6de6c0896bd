import AccordTLS
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The identity provider's HTTP, as a sign-in needs it: a GET of a JSON document (discovery, keys)
/// and a form POST (the token request). One connection per request, a deadline on the whole
/// exchange and a bound on the answer, so a slow or hostile provider costs a sign-in its time
/// and no more than `maximumResponseBytes` of memory. `https` goes through the system OpenSSL
/// (`WebTLSContext`): the provider's chain verified, its certificate holding the URL's host.
struct ProviderHTTPClient: Sendable {
    struct Answer: Sendable {
        let status: Int
        let body: [UInt8]
    }

    static let maximumResponseBytes = 256 * 1024
    var timeout: Duration = .seconds(10)
    /// For `https` URLs; nil: plain `http` only.
    var tls: WebTLSContext? = nil

    func get(_ url: URL) async throws -> Answer {
        try await exchange(url, method: .GET, body: nil, headers: [("Accept", "application/json")])
    }

    func postForm(_ url: URL, _ fields: [(String, String)], headers: [(String, String)]) async throws -> Answer {
        let body = fields.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        return try await exchange(
            url, method: .POST, body: Array(body.utf8),
            headers: headers + [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")]
        )
    }

    /// `application/x-www-form-urlencoded` encoding of one name or value.
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    private func exchange(_ url: URL, method: HTTPMethod, body: [UInt8]?, headers: [(String, String)]) async throws -> Answer {
        guard let host = url.host, !host.isEmpty, url.scheme == "http" || (url.scheme == "https" && tls != nil) else {
            throw ProviderUnreachable("\(url.absoluteString): not an http(s) URL of the configured provider")
        }
        let secure = url.scheme == "https"
        let port = url.port ?? (secure ? 443 : 80)
        let (timeout, tls) = (self.timeout, secure ? self.tls : nil)
        return try await withThrowingTaskGroup(of: Answer?.self) { group in
            group.addTask {
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(TimeAmount(timeout))
                    .connect(host: host, port: port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            if let tls { try channel.pipeline.syncOperations.addHandler(TLSHandler(web: tls, serverName: host)) }
                            try channel.pipeline.syncOperations.addHTTPClientHandlers()
                            return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                        }
                    }
                return try await channel.executeThenClose { inbound, outbound in
                    var target = url.path.isEmpty ? "/" : url.path
                    if let query = url.query { target += "?\(query)" }
                    var fields = HTTPHeaders([("Host", url.port.map { "\(host):\($0)" } ?? host), ("Connection", "close"), ("User-Agent", "accordd")])
                    fields.add(contentsOf: headers)
                    if let body { fields.add(name: "Content-Length", value: "\(body.count)") }
                    try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: fields)))
                    if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                    try await outbound.write(.end(nil))
                    var status = 0
                    var received: [UInt8] = []
                    for try await part in inbound {
                        switch part {
                        case .head(let head): status = Int(head.status.code)
                        case .body(let buffer):
                            guard received.count + buffer.readableBytes <= Self.maximumResponseBytes else {
                                throw ProviderUnreachable("\(url.absoluteString) answered with more than \(Self.maximumResponseBytes) bytes")
                            }
                            received += buffer.readableBytesView
                        case .end: return Answer(status: status, body: received)
                        }
                    }
                    throw ProviderUnreachable("\(url.absoluteString) closed the connection before its answer ended")
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let answer = try await group.next() ?? nil else {
                throw ProviderUnreachable("\(url.absoluteString) did not answer within \(timeout)")
            }
            return answer
        }
    }
}

/// The identity provider could not be reached, or answered with something unusable.
struct ProviderUnreachable: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
