import AccordAdminAPI
@testable import AccordDaemon
import AccordTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Testing

/// The admin API's and the console's routes in this process (`InProcessHTTP`), beside the tests
/// that drive real accordd processes and the Chromium tests of the console.
@Suite("HTTP routes in process", .serialized)
struct HTTPRouteTests {
    /// docs/openapi.json, parsed.
    static func document() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(TestCertificates.repository)/docs/openapi.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("every admin route is described in docs/openapi.json and every described route exists; the node serves that very document")
    func openAPIDescribesEveryRoute() async throws {
        let node = try await InProcessNode()
        defer { Task { await node.close() } }
        let routes = Set(AdminRoutes(administration: node.daemon.administration).router().routes.map { "\($0.method) \($0.path)" })
        let paths = try #require(try Self.document()["paths"] as? [String: [String: Any]])
        var described: Set<String> = []
        // Hummingbird writes a route's parameters as OpenAPI does: /v1/agreements/{agreement}.
        for (path, operations) in paths {
            for method in operations.keys { described.insert("\(method.uppercased()) \(path)") }
        }
        #expect(routes.subtracting(described).isEmpty, "routes not described: \(routes.subtracting(described).sorted())")
        #expect(described.subtracting(routes).isEmpty, "described routes that do not exist: \(described.subtracting(routes).sorted())")
        #expect(routes.count >= 25)

        let served = try await node.admin.send(.get, "/v1/openapi.json")
        let file = try String(contentsOfFile: "\(TestCertificates.repository)/docs/openapi.json", encoding: .utf8)
        #expect(served.status == .ok && served.headers[.contentType] == "application/json")
        #expect(served.text == file, "the served document is docs/openapi.json (embedded through the Resources/openapi.json link)")
    }

    @Test("admin routes in process: JSON answers, a created agreement read back by id, errors as JSON with their codes")
    func adminRoutes() async throws {
        let node = try await InProcessNode()
        defer { Task { await node.close() } }
        let admin = node.admin
        let status = try await admin.send(.get, "/v1/status")
        #expect(status.status == .ok && status.headers[.contentType] == "application/json")
        #expect(try AdminAPI.decoder().decode(NodeStatus.self, from: Data(status.body)).organisation == "acme")

        let request = CreateAgreementRequest(title: "In process", category: "fullSupport", parties: ["acme", "globex"])
        let created = try await admin.send(.post, "/v1/agreements", body: Array(try AdminAPI.encoder().encode(request)))
        #expect(created.status == .created, "\(created.text)")
        let id = try AdminAPI.decoder().decode(CreatedAgreement.self, from: Data(created.body)).id
        let shown = try await admin.send(.get, "/v1/agreements/\(id)")
        #expect(try AdminAPI.decoder().decode(AgreementView.self, from: Data(shown.body)).title == "In process")

        for (method, path, body, expected, code) in [
            (HTTPRequest.Method.get, "/v1/nothing", "", HTTPResponse.Status.notFound, "not-found"),
            (.delete, "/v1/agreements", "", .notFound, "not-found"),
            (.post, "/v1/agreements", "{\"title\": ", .badRequest, "bad-request"),
            (.post, "/v1/agreements", #"{"title":"x","category":"fullSupport","parties":["acme","contosso"]}"#, .unprocessableContent, "unknown-organisation"),
            (.post, "/v1/agreements", String(repeating: "x", count: AdminAPI.maximumRequestBytes + 1), .contentTooLarge, "request-too-large"),
            (.get, "/v1/agreements/\(UUID().uuidString.lowercased())", "", .notFound, "not-found"),
            (.get, "/v1/due?within=forever", "", .badRequest, "bad-request"),
        ] {
            let answer = try await admin.send(method, path, body: Array(body.utf8))
            #expect(answer.status == expected, "\(method) \(path): \(answer.status) \(answer.text.prefix(200))")
            let error = try? AdminAPI.decoder().decode(ErrorResponse.self, from: Data(answer.body))
            #expect(error?.code == code, "\(method) \(path): \(answer.text.prefix(200))")
        }
    }

    @Test("console routes in process: another Host refused, security headers on every answer, no session → login, a form without its CSRF token refused")
    func consoleRoutes() async throws {
        let port = try freePorts(1)[0]
        let node = try await InProcessNode(console: port)
        defer { Task { await node.close() } }
        let console = try #require(node.console)
        let host = "127.0.0.1:\(port)"

        let elsewhere = try await console.send(.get, "/login", authority: "attacker.example")
        #expect(elsewhere.status == .misdirectedRequest)
        let login = try await console.send(.get, "/login", authority: host)
        #expect(login.status == .ok && login.text.contains("token"))
        for answer in [elsewhere, login] {
            #expect(answer.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            #expect(answer.headers[.cacheControl] == "no-store")
        }
        let overview = try await console.send(.get, "/", authority: host)
        #expect(overview.status == .seeOther && overview.headers[.location] == "/login")
        let action = try await console.send(.post, "/agreements/x/notes", authority: host, body: Array("text=hi".utf8))
        #expect(action.status == .unauthorized)

        // A session from a token, then a form without its CSRF token.
        let token = try #require(node.daemon.administration.console).issueToken(validity: .seconds(60))
        var form: HTTPFields = [:]
        form[.contentType] = "application/x-www-form-urlencoded"
        form[.origin] = "http://127.0.0.1:\(port)"
        let opened = try await console.send(.post, "/login", authority: host, headers: form, body: Array("token=\(token)".utf8))
        #expect(opened.status == .seeOther, "\(opened.text)")
        let cookie = try #require(opened.headers[.setCookie]?.split(separator: ";").first.map(String.init))
        var signedIn = form
        signedIn[.cookie] = cookie
        let page = try await console.send(.get, "/", authority: host, headers: signedIn)
        #expect(page.status == .ok && page.text.contains("acme/node1"), "\(page.text.prefix(300))")
        let forged = try await console.send(.post, "/agreements/x/notes", authority: host, headers: signedIn, body: Array("text=hi&csrf=wrong".utf8))
        #expect(forged.status == .forbidden)
        let missing = try await console.send(.get, "/no-such-page", authority: host, headers: signedIn)
        #expect(missing.status == .notFound && missing.headers[.contentSecurityPolicy] != nil)
    }
}
