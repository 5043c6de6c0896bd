import AccordTestSupport
import Foundation
import Testing

/// accordd refuses to start on a broken setup, says what to fix on one line naming the file and
/// field, and exits non-zero with a status that tells the kind of problem (sysexits.h).
@Suite("accordd start-up errors", .serialized)
struct StartupErrorTests {
    /// Starts accordd with `configuration` and returns how it ended and what it logged.
    private func refused(_ node: DaemonNode, _ configuration: String) async throws -> (Subprocess.Termination?, String) {
        let process = try node.launch(configuration: configuration)
        let termination = try await process.wait(timeout: .seconds(30))
        if termination == nil { process.signal(SIGKILL) }
        return (termination, node.log)
    }

    @Test("a bad configuration exits 78 and names the file and the field")
    func badConfiguration() async throws {
        let node = try DaemonNode("acme", port: try freePorts(1)[0])
        defer { node.remove() }
        let healthy = node.configuration()
        let cases: [(String, String, String)] = [
            ("TOML syntax", healthy.replacingOccurrences(of: "[listen]", with: "[listen"), "line"),
            ("a misspelt option", healthy.replacingOccurrences(of: "data_directory", with: "data_dir"), "node.data_directory: is required (node.data_dir is not an option: misspelt?)"),
            ("an unknown option", healthy.replacingOccurrences(of: "durability = \"full\"", with: "durability = \"full\"\ncolour = \"blue\""), "node.colour: unknown option"),
            ("a missing section", healthy.replacingOccurrences(of: "[admin]\nsocket", with: "[other]\nsocket"), "admin: is required"),
            ("a wrong type", healthy.replacingOccurrences(of: "keepalive_seconds = 1", with: "keepalive_seconds = \"1\""), "sync.keepalive_seconds: expected an integer"),
            ("a bad address", healthy.replacingOccurrences(of: "address = \"127.0.0.1:\(node.port)\"", with: "address = \"localhost\""), "listen.address"),
            ("an unknown durability", healthy.replacingOccurrences(of: "durability = \"full\"", with: "durability = \"maybe\""), "node.durability"),
        ]
        for (name, configuration, expected) in cases {
            let (termination, log) = try await refused(node, configuration)
            #expect(termination == .exited(78), "\(name): \(String(describing: termination))")
            #expect(log.contains(node.configFile), "\(name): the message names the file: \(log)")
            #expect(log.contains(expected), "\(name): expected \"\(expected)\" in: \(log)")
            try? FileManager.default.removeItem(atPath: node.logFile)
        }
        let open = healthy.replacingOccurrences(of: "socket = \"\(node.socket)\"", with: "socket = \"\(node.socket)\"\nsocket_mode = \"0666\"")
        let (termination, log) = try await refused(node, open)
        #expect(termination == .exited(78) && log.contains("admin.socket_mode"), "\(log)")
        #expect(!FileManager.default.fileExists(atPath: node.dataDirectory), "nothing was created for a refused configuration")
    }

    @Test("a missing certificate file exits 78 naming tls.certificate; a certificate of another node is refused too")
    func missingCertificate() async throws {
        let node = try DaemonNode("acme", port: try freePorts(1)[0])
        defer { node.remove() }
        let (termination, log) = try await refused(node, node.configuration(certificate: "/nonexistent/acme.pem"))
        #expect(termination == .exited(78))
        #expect(log.contains("tls.certificate: /nonexistent/acme.pem: No such file or directory"), "\(log)")

        try? FileManager.default.removeItem(atPath: node.logFile)
        let (other, otherLog) = try await refused(node, node.configuration(certificate: "\(Binaries.certificates)/globex-node1.pem"))
        #expect(other == .exited(78))
        #expect(otherLog.contains("tls"), "\(otherLog)")
    }

    @Test("an unusable data directory exits 73 naming node.data_directory")
    func unusableDataDirectory() async throws {
        let node = try DaemonNode("acme", port: try freePorts(1)[0])
        defer { node.remove() }
        // A regular file where the directory should be: unusable whoever runs the test (root ignores modes).
        let blocked = "\(node.folder)/not-a-directory"
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocked))
        let (termination, log) = try await refused(node, node.configuration(dataDirectory: blocked))
        #expect(termination == .exited(73), "\(log)")
        #expect(log.contains("node.data_directory") && log.contains(blocked), "\(log)")

        if getuid() != 0 {
            let unreadable = "\(node.folder)/unreadable"
            try FileManager.default.createDirectory(atPath: unreadable, withIntermediateDirectories: true, attributes: [.posixPermissions: 0])
            try? FileManager.default.removeItem(atPath: node.logFile)
            let (termination, log) = try await refused(node, node.configuration(dataDirectory: unreadable))
            #expect(termination == .exited(73), "\(log)")
            chmod(unreadable, 0o700)
        }
    }

    @Test("a second node on a running node's admin socket exits 69; the same data directory is refused with 73")
    func socketInUse() async throws {
        let ports = try freePorts(2)
        let running = try DaemonNode("acme", port: ports[0])
        let second = try DaemonNode("acme", port: ports[1])
        try await withNodes([running, second]) {
            try await running.start()
            let (termination, log) = try await refused(second, second.configuration(socket: running.socket))
            #expect(termination == .exited(69), "\(log)")
            #expect(log.contains("in use by another running process"), "\(log)")
            let untouched = try await running.ctl("status")
            #expect(untouched.succeeded, "the running node is untouched: \(untouched.stderr)")
            // The options every command takes may come before the command too (README).
            let first = try await Subprocess.run(Binaries.accordctl, ["--socket", running.socket, "--json", "--timeout=5", "status"])
            #expect(first.succeeded && first.stdout.contains("\"node\""), "accordctl --socket … status: \(first.stderr)")
            let last = try await Subprocess.run(Binaries.accordctl, ["--socket", running.socket, "agreements", "list", "--json"])
            #expect(last.succeeded && last.stdout.hasPrefix("["), "options before and after the command: \(last.stderr)")

            try? FileManager.default.removeItem(atPath: second.logFile)
            let (locked, lockedLog) = try await refused(second, second.configuration(dataDirectory: running.dataDirectory))
            #expect(locked == .exited(73), "\(lockedLog)")
            let stillUntouched = try await running.ctl("status")
            #expect(stillUntouched.succeeded, "the running node is untouched: \(stillUntouched.stderr)")

            // A socket file left behind by a killed node is not "in use": it is replaced.
            try await running.stop(SIGKILL)
            #expect(FileManager.default.fileExists(atPath: running.socket))
            try await running.start()
            #expect(try await running.stop(SIGTERM) == .exited(0))
        }
    }
}

/// How accordd's services come up and go down (docs/architecture.md, "The daemon").
@Suite("accordd services in order", .serialized)
struct ServiceOrderTests {
    static let order = [
        "store", "refusal-summaries", "sync", "admin-api", "console", "metrics", "reload-on-hangup", "certificate-watch", "deadline-watch",
        "memory-return", "announcement",
    ]

    /// The services a log says started (or stopped), in the order it says them.
    static func services(_ event: String, in log: String) -> [String] {
        log.split(separator: "\n").filter { $0.contains(event) }.compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("service=") }.map { String($0.dropFirst("service=".count)) }
        }
    }

    @Test("the services start in their order, each once the one before is up, 'accordd started' last; SIGTERM stops them in reverse, the store last")
    func startAndStopInOrder() async throws {
        let node = try DaemonNode("acme", port: try freePorts(1)[0])
        node.consolePort = try freePorts(1)[0]
        node.metricsPort = try freePorts(1)[0]
        try await withNodes([node]) {
            try await node.start()
            try await eventually("accordd says it has started") { node.log.contains("accordd started") }
            #expect(Self.services("service started", in: node.log) == Self.order, "\(node.log)")
            let lines = node.log.split(separator: "\n")
            let started = try #require(lines.firstIndex { $0.contains("accordd started") })
            let lastService = try #require(lines.lastIndex { $0.contains("service started") })
            #expect(started > lines.firstIndex { $0.contains("service=admin-api") && $0.contains("service started") }!, "the socket is up before the announcement")
            #expect(lastService >= started - 1)
            #expect(try await node.stop() == .exited(0))
            #expect(Self.services("service stopped", in: node.log) == Self.order.reversed(), "\(node.log)")
            #expect(node.log.contains("accordd stopped cleanly"))
        }
    }
}
