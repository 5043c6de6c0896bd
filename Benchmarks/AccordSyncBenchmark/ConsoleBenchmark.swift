import AccordAdminAPI
import AccordTestSupport
import Foundation

/// The web console's server time for its two heaviest pages on a real accordd: the list of
/// agreements at `agreements` agreements (the first page, sorted by title, every row with its
/// parties' approvals, term and next due date), and an agreement with `history` changes (its
/// history in words, what changed since each approval). Each beside the admin API's JSON of the
/// same data in the same run (the list; `show`), which reads the same rows without rendering.
struct ConsoleBenchmark {
    let agreements: Int
    let history: Int
    let binaries: String
    /// Where to record a perf profile of the node while it serves each page (`--perf`).
    var perfFolder: String? = nil
    let report: BenchReport

    func run() async throws {
        let ports = try freePorts(2)
        let node = try AccordProcess("acme", port: ports[0], binaries: binaries)
        node.consolePort = ports[1]
        defer { node.remove() }
        try await node.start()
        let admin = node.admin()

        // The agreements, 1,000 per bulk request, each with two commitments' worth of terms.
        for start in stride(from: 0, to: agreements, by: 1000) {
            let request = BulkCreateRequest(agreements: (start..<min(start + 1000, agreements)).map { index in
                CreateAgreementRequest(
                    title: "Technology partnership \(index)", category: "technicalResources", parties: ["acme", "globex"],
                    framework: ["technicalFit": "Acme hosts, Globex operates"], effectiveFrom: "2027-01-01", expiresOn: "2028-12-31",
                    allowUnknownParties: true
                )
            })
            let response = try admin.blockingRequest("POST", "/v1/agreements/bulk", body: Array(try AdminAPI.encoder().encode(request)))
            guard response.status == 200 else { throw BenchFailure("bulk: \(response.status)") }
        }
        // One agreement with a long history: commitments, term edits, approvals, notes.
        let long = try await node.json(
            "agreements", "create", "--title", "Long-running partnership", "--category", "fullSupport", "--party", "acme", "--party", "globex",
            "--allow-unknown-party", "--json", as: CreatedAgreement.self
        ).id
        for index in 1..<history {
            let arguments: [String] =
                switch index % 5 {
                case 0: ["agreements", "approve", long]
                case 1: ["agreements", "commitment", long, "add", "--by", "acme", "--kind", "freeResource", "--description", "\(index) GPU hours", "--due", "2027-06-30"]
                case 2: ["agreements", "set", long, "title", "Long-running partnership, revision \(index)"]
                case 3: ["agreements", "note", long, "Meeting \(index): nothing to report"]
                default: ["agreements", "set", long, "framework.serviceCoverage", "Coverage revision \(index)"]
                }
            let result = try await node.ctl(arguments)
            guard result.succeeded else { throw BenchFailure("\(arguments.joined(separator: " ")): \(result.stderr)") }
        }

        let console = try ConsoleClient(port: ports[1], token: try await node.json("console-token", as: ConsoleToken.self).token)
        let pid = node.process?.pid ?? 0
        let listProfile = try PerfRecording.start("console-list", pid: pid, in: perfFolder)
        let list = try Self.median(20) { try console.get("/agreements?sort=title") }
        try await listProfile?.stop()
        let listJSON = try Self.median(20) { try admin.blockingRequest("GET", "/v1/agreements", body: nil).status }
        report.record(
            "console: the list, first page of \(agreements) agreements", list * 1000, "ms",
            ratio: (list / listJSON, "× GET /v1/agreements (JSON, all)"), aim: "< 50 ms"
        )
        let pageProfile = try PerfRecording.start("console-agreement", pid: pid, in: perfFolder)
        let page = try Self.median(20) { try console.get("/agreements/\(long)") }
        try await pageProfile?.stop()
        let show = try Self.median(20) { try admin.blockingRequest("GET", "/v1/agreements/\(long)", body: nil).status }
        report.record(
            "console: an agreement with \(history) changes", page * 1000, "ms", ratio: (page / show, "× GET /v1/agreements/ID (JSON)"),
            aim: "< 50 ms"
        )
        try await node.stop()
    }

    /// The median of `count` runs of `body`, in seconds (after one unmeasured run).
    static func median(_ count: Int, _ body: () throws -> Int) throws -> Double {
        guard try body() == 200 else { throw BenchFailure("a request failed") }
        var times: [Double] = []
        for _ in 0..<count {
            let start = ContinuousClock.now
            guard try body() == 200 else { throw BenchFailure("a request failed") }
            times.append(seconds(ContinuousClock.now - start))
        }
        return percentile(times.sorted(), 0.5)
    }
}

/// A console session over plain HTTP on loopback: one request per connection, as simple as the
/// benchmark needs (the time is the server's: the client only writes and reads).
struct ConsoleClient {
    let port: Int
    let cookie: String

    init(port: Int, token: String) throws {
        self.port = port
        let answer = try Self.exchange(
            port: port,
            "POST /login HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nOrigin: http://127.0.0.1:\(port)\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + "Content-Length: \(6 + token.utf8.count)\r\nConnection: close\r\n\r\ntoken=\(token)"
        )
        guard let line = answer.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("set-cookie:") }),
            let pair = line.dropFirst("set-cookie:".count).split(separator: ";").first
        else { throw BenchFailure("the console login set no cookie: \(answer.prefix(200))") }
        cookie = pair.trimmingCharacters(in: .whitespaces)
    }

    /// GETs `path`; the status.
    func get(_ path: String) throws -> Int {
        let answer = try Self.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nCookie: \(cookie)\r\nConnection: close\r\n\r\n")
        return Int(answer.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    private static func exchange(port: Int, _ request: String) throws -> String {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw BenchFailure("socket: \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw BenchFailure("connect: \(errno)") }
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(socket, $0.baseAddress, $0.count, 0) }) == bytes.count else { throw BenchFailure("send: \(errno)") }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            answer += buffer[..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
