import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// The admin API as curl sees it: raw HTTP/1.1 bytes on the Unix socket of a real accordd.
@Suite("Admin API over its Unix socket", .serialized)
struct AdminAPITests {
    /// Sends `request` on a new connection and returns everything the server wrote until it closed.
    private func exchange(_ socketPath: String, _ request: [UInt8]) throws -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in socketPath.utf8.enumerated() { path[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var offset = 0
        while offset < request.count {
            let written = request[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written <= 0 { break }  // the server may answer and close before reading everything
            offset += written
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        return String(decoding: response, as: UTF8.self)
    }

    private func request(_ method: String, _ path: String, body: String? = nil) -> [UInt8] {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: accordd\r\nConnection: close\r\n"
        if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" } else { text += "\r\n" }
        return Array(text.utf8)
    }

    /// The status line's code and the JSON error body, if any.
    private func answer(_ response: String) -> (Int, ErrorResponse?) {
        let code = Int(response.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
        guard let start = response.range(of: "\r\n\r\n") else { return (code, nil) }
        let body = Data(response[start.upperBound...].utf8)
        return (code, try? AdminAPI.decoder().decode(ErrorResponse.self, from: body))
    }

    @Test("timestamps are RFC 3339 in UTC with milliseconds, the same as Foundation's ISO 8601 formatter writes (without its ICU data)", arguments: [
        UInt64(0), 951_782_400_000, 951_868_799_999, 1_709_164_800_123, 1_795_000_000_007, 4_102_444_800_000, 253_402_300_799_999,
    ])
    func timestamps(millis: UInt64) {
        let oracle = ISO8601DateFormatter()
        oracle.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        #expect(AdminAPI.timestamp(millis: millis) == oracle.string(from: Date(timeIntervalSince1970: Double(millis) / 1000)))
        var random = SplitMix64(seed: millis)
        for _ in 0..<1000 {
            let sample = UInt64.random(in: 0...4_102_444_800_000, using: &random)
            #expect(AdminAPI.timestamp(millis: sample) == oracle.string(from: Date(timeIntervalSince1970: Double(sample) / 1000)), "\(sample)")
        }
    }

    @Test("bad requests get a status and a JSON error with a message; the node keeps serving")
    func badRequests() async throws {
        let node = try DaemonNode("acme", port: try freePorts(1)[0])
        try await withNodes([node]) {
            try await node.start()
            var status = stat()
            #expect(stat(node.socket, &status) == 0 && status.st_mode & 0o777 == 0o600, "the admin socket is 0600")

            let cases: [(String, [UInt8], Int, String)] = [
                ("unknown endpoint", request("GET", "/v1/nothing"), 404, "not-found"),
                ("unversioned path", request("GET", "/agreements"), 404, "not-found"),
                ("wrong method", request("DELETE", "/v1/agreements"), 404, "not-found"),
                ("malformed JSON", request("POST", "/v1/agreements", body: "{\"title\": "), 400, "bad-request"),
                ("missing field", request("POST", "/v1/agreements", body: "{\"title\": \"x\"}"), 400, "bad-request"),
                ("unknown category", request("POST", "/v1/agreements", body: #"{"title":"x","category":"gifts","parties":["acme","globex"]}"#), 400, "bad-request"),
                ("not a party itself", request("POST", "/v1/agreements", body: #"{"title":"x","category":"fullSupport","parties":["globex","initech"],"allowUnknownParties":true}"#), 422, "creator-not-party"),
                ("a party this node does not know", request("POST", "/v1/agreements", body: #"{"title":"x","category":"fullSupport","parties":["acme","contosso"]}"#), 422, "unknown-organisation"),
                ("neither an id nor a reference", request("GET", "/v1/agreements/12345"), 404, "not-found"),
                ("unknown agreement", request("GET", "/v1/agreements/\(UUID().uuidString.lowercased())"), 404, "not-found"),
                ("unknown status filter", request("GET", "/v1/agreements?status=happy"), 400, "bad-request"),
                ("sync with a stranger", request("POST", "/v1/sync", body: #"{"peer":"umbrella"}"#), 404, "not-found"),
                ("oversized body", request("POST", "/v1/agreements", body: String(repeating: "x", count: AdminAPI.maximumRequestBytes + 1)), 413, "request-too-large"),
            ]
            for (name, bytes, expectedStatus, expectedCode) in cases {
                let (code, error) = answer(try exchange(node.socket, bytes))
                #expect(code == expectedStatus, "\(name): status \(code)")
                #expect(error?.code == expectedCode, "\(name): \(String(describing: error))")
                #expect(error.map { !$0.message.isEmpty } ?? false, "\(name): an error message")
            }
            // Not HTTP at all: the HTTP parser refuses it and closes that connection only.
            let garbage = try exchange(node.socket, Array("\u{0}\u{1}\u{2} hello\r\n\r\n".utf8))
            #expect(garbage.hasPrefix("HTTP/1.1 400"), "\(garbage)")
            #expect(try await node.ctl("status").succeeded, "the node still serves after every bad request")
            #expect(try await node.ctl("agreements", "list").stdout.contains("no agreements"), "nothing was created by a refused request")
        }
    }

    @Test("bulk create: every entry checked before any is made, each its own signed change in one commit, one refused by the rules does not stop the others")
    func bulkCreate() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            func entry(_ index: Int, parties: [String] = ["acme", "globex"]) -> CreateAgreementRequest {
                CreateAgreementRequest(title: "Bulk \(index)", category: "technicalResources", parties: parties, framework: ["serviceCoverage": "EU"])
            }
            func post(_ request: BulkCreateRequest) async throws -> AdminSocketClient.Response {
                try await acme.admin().request("POST", "/v1/agreements/bulk", body: Array(try AdminAPI.encoder().encode(request)))
            }
            // A bad entry refuses the whole request, naming it; nothing is made.
            var bad = BulkCreateRequest(agreements: (0..<3).map { entry($0) })
            bad.agreements[2].category = "gifts"
            let refused = try await post(bad)
            #expect(refused.status == 400 && refused.text.contains("agreements[2]"), "\(refused.text)")
            #expect(try await post(BulkCreateRequest(agreements: [])).status == 400)
            #expect(try await acme.agreementIDs().isEmpty)

            // 300 agreements and one the rules refuse (acme is not among its parties).
            var request = BulkCreateRequest(agreements: (0..<300).map { entry($0) })
            var notOurs = entry(999, parties: ["globex", "initech"])
            notOurs.allowUnknownParties = true
            request.agreements.insert(notOurs, at: 150)
            let answered = try await post(request)
            #expect(answered.status == 200, "\(answered.text)")
            let response = try AdminAPI.decoder().decode(BulkCreateResponse.self, from: Data(answered.body))
            #expect(response.created == 300 && response.results.count == 301)
            #expect(response.results[150].error?.code == "creator-not-party" && response.results[150].created == nil)
            let ids = Set(response.results.compactMap(\.created?.id))
            #expect(ids.count == 300)
            #expect(try await acme.agreementIDs() == ids)
            let changes = Set(response.results.compactMap(\.created?.change))
            #expect(changes.count == 300, "each agreement is its own signed change")
            try await eventually("globex received them all") { try await globex.agreementIDs() == ids }
            #expect(try await globex.metric("accord_changes_rejected_total", reason: "bad-signature") == 0)
        }
    }

    @Test("GET /metrics is Prometheus text with the node's counts; --log-format json writes one JSON object per line")
    func metrics() async throws {
        let node = try DaemonNode("acme", port: try freePorts(1)[0])
        node.options = ["--log-format", "json", "--log-level", "debug"]
        node.peers = [AccordProcess.Peer(organisation: "globex", port: try freePorts(1)[0])]
        try await withNodes([node]) {
            try await node.start()
            for index in 0..<3 {
                #expect(try await node.ctl("agreements", "create", "--title", "A\(index)", "--category", "fullSupport", "--party", "acme", "--party", "globex").succeeded)
            }
            let response = try exchange(node.socket, request("GET", "/metrics"))
            #expect(response.hasPrefix("HTTP/1.1 200"))
            #expect(response.contains("Content-Type: text/plain; version=0.0.4"))
            for line in ["accord_agreements 3", "accord_log_changes 3", "accord_changes_authored_total 3", "accord_peers_configured 1", "accord_peers_connected 0"] {
                #expect(response.contains("\n\(line)\n"), "missing \(line)")
            }
            for name in ["accord_changes_rejected_total", "accord_reconcile_seconds_total", "accord_dial_failures_total", "accord_changes_sent_total"] {
                #expect(response.contains("# TYPE \(name) counter"), "missing \(name)")
            }
            let viaCtl = try await node.ctl("metrics")
            #expect(viaCtl.stdout.contains("accord_agreements 3"))

            let lines = node.log.split(separator: "\n")
            #expect(lines.count >= 3)
            for line in lines {
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
                #expect(object?["message"] != nil && object?["level"] != nil && object?["time"] != nil, "not a JSON log line: \(line)")
            }
        }
    }
}
