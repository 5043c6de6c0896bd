@testable import AccordDaemon
import AccordTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import NIOConcurrencyHelpers

/// Sends requests straight to a router's responder, in this process: no socket, no daemon
/// process, the same routes, middleware and operations `accordd` serves. (Hummingbird's own test
/// client needs AsyncHTTPClient and swift-nio-ssl, a second TLS stack the design rules out; this
/// is the same idea over Hummingbird's public request and responder API.)
struct InProcessHTTP: Sendable {
    struct Answer: Sendable {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    let responder: RouterResponder<AccordRequestContext>

    /// - Parameter authority: the `Host` the request names.
    func send(
        _ method: HTTPRequest.Method, _ path: String, authority: String = "accordd", headers: HTTPFields = [:], body: [UInt8] = []
    ) async throws -> Answer {
        var headers = headers
        if !body.isEmpty { headers[.contentLength] = "\(body.count)" }
        let request = Request(
            head: HTTPRequest(method: method, scheme: "http", authority: authority, path: path, headerFields: headers),
            body: RequestBody(buffer: ByteBuffer(bytes: body))
        )
        let context = AccordRequestContext(source: ApplicationRequestContextSource(channel: EmbeddedChannel(), logger: Logger(label: "in-process")))
        let response = try await responder.respond(to: request, context: context)
        let collector = Collector()
        try await response.body.write(collector)
        return Answer(status: response.status, headers: response.headers, body: collector.bytes.withLockedValue { $0 })
    }

    /// Collects a response body.
    private final class Collector: ResponseBodyWriter, Sendable {
        let bytes = NIOLockedValueBox<[UInt8]>([])

        func write(_ buffer: ByteBuffer) async throws { bytes.withLockedValue { $0 += buffer.readableBytesView } }
        func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}

/// A node opened in this process — store, sync (bound, not running), routes — whose routes
/// `InProcessHTTP` calls; its services never run.
final class InProcessNode: Sendable {
    let daemon: Daemon
    let folder: String

    /// - Parameters:
    ///   - console: a console on this loopback port (nothing listens there).
    ///   - metrics: a metrics listener on this loopback port (nothing listens there).
    init(console: Int? = nil, metrics: Int? = nil) async throws {
        folder = TestCertificates.temporaryFolder("accord-in-process")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let node = try AccordProcess("acme", port: 0, binaries: "", folder: folder)
        node.consolePort = console
        node.metricsPort = metrics
        node.peers = [AccordProcess.Peer(organisation: "globex", port: 1)]
        let file = "\(folder)/accordd.toml"
        try node.configuration().write(toFile: file, atomically: true, encoding: .utf8)
        daemon = try await Daemon(configuration: try DaemonConfiguration.load(file: file), logger: Logger(label: "in-process"))
    }

    var admin: InProcessHTTP { InProcessHTTP(responder: daemon.adminResponder) }
    var console: InProcessHTTP? { daemon.consoleResponder.map(InProcessHTTP.init) }
    var metrics: InProcessHTTP? { daemon.metricsResponder.map(InProcessHTTP.init) }

    func close() async {
        await daemon.closeUnstarted()
        try? FileManager.default.removeItem(atPath: folder)
    }
}
