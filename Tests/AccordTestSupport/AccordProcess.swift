public import Foundation
import AccordAdminAPI

/// One real `accordd` process with its own folder (configuration, data, admin socket, log),
/// driven by the real `accordctl`: the driver of the end-to-end tests, the attack tests and the
/// chaos soak. `@unchecked Sendable`: a test or the soak drives each node from one task at a time.
public final class AccordProcess: @unchecked Sendable {
    /// A peer in the configuration: an organisation and the loopback port that reaches it.
    public struct Peer: Sendable {
        public let organisation: String
        public let port: Int

        public init(organisation: String, port: Int) {
            self.organisation = organisation
            self.port = port
        }
    }

    public let organisation: String
    /// This node's name (its certificate's CN).
    public let name: String
    public let folder: String
    public let port: Int
    /// The folder holding `accordd` and `accordctl`.
    public let binaries: String
    public var peers: [Peer] = []
    /// The certificate folder: `ca.pem`, `ORG-NODE.pem`/`.key`.
    public var certificates = TestCertificates.examples
    /// The CA file for `[tls] ca`; `certificates`/ca.pem by default.
    public var caFile: String?
    /// A revocation list for `[tls] crl`.
    public var crl: String?
    public var keepaliveSeconds = 1
    public var idleTimeoutSeconds = 5
    public var reconcileIntervalSeconds: Int?
    /// The web console's port on 127.0.0.1; nil: no console.
    public var consolePort: Int?
    public var consoleURL: String? { consolePort.map { "http://127.0.0.1:\($0)" } }
    /// The metrics listener's port on 127.0.0.1 (`[metrics]`); nil: none.
    public var metricsPort: Int?
    /// TOML appended to the configuration (tables such as `[console.oidc]`).
    public var extraConfiguration = ""
    /// accordd options besides `--config`.
    public var options: [String] = []
    /// Environment variables for accordd besides this process's (e.g. a preload library).
    public var environment: [String: String] = [:]
    public private(set) var process: Subprocess?

    public var label: String { "\(organisation)/\(name)" }
    public var address: Peer { Peer(organisation: organisation, port: port) }
    public var configFile: String { "\(folder)/accordd.toml" }
    /// Where the node keeps its data: `folder/data` unless a test puts it elsewhere (a small tmpfs).
    public var dataDirectory: String {
        get { dataDirectoryOverride ?? "\(folder)/data" }
        set { dataDirectoryOverride = newValue }
    }
    private var dataDirectoryOverride: String?
    public var socket: String { "\(folder)/admin.sock" }
    public var logFile: String { "\(folder)/accordd.log" }
    public var isRunning: Bool { process != nil }

    /// - Parameter folder: where the node lives; a new short folder under /tmp by default (a Unix
    ///   socket path must fit in 108 bytes).
    public init(_ organisation: String, name: String = "node1", port: Int, binaries: String, folder: String? = nil) throws {
        self.organisation = organisation
        self.name = name
        self.port = port
        self.binaries = binaries
        self.folder = folder ?? "/tmp/accord-\(UUID().uuidString.prefix(8))-\(organisation)-\(name)"
        try FileManager.default.createDirectory(atPath: self.folder, withIntermediateDirectories: true)
    }

    /// The configuration a healthy node runs with; tests break it on purpose.
    public func configuration(dataDirectory: String? = nil, socket: String? = nil, certificate: String? = nil) -> String {
        var text = """
            [node]
            organisation = "\(organisation)"
            name = "\(name)"
            data_directory = "\(dataDirectory ?? self.dataDirectory)"
            durability = "full"

            [listen]
            address = "127.0.0.1:\(port)"

            [tls]
            certificate = "\(certificate ?? "\(certificates)/\(organisation)-\(name).pem")"
            private_key = "\(certificates)/\(organisation)-\(name).key"
            ca = "\(caFile ?? "\(certificates)/ca.pem")"
            \(crl.map { "crl = \"\($0)\"" } ?? "")

            [admin]
            socket = "\(socket ?? self.socket)"

            [sync]
            keepalive_seconds = \(keepaliveSeconds)
            idle_timeout_seconds = \(idleTimeoutSeconds)
            \(reconcileIntervalSeconds.map { "reconcile_interval_seconds = \($0)" } ?? "")

            \(consolePort.map { "[console]\naddress = \"127.0.0.1:\($0)\"\n" } ?? "")
            \(metricsPort.map { "[metrics]\naddress = \"127.0.0.1:\($0)\"\n" } ?? "")
            """
        for peer in peers {
            text += "\n[[peers]]\norganisation = \"\(peer.organisation)\"\naddress = \"127.0.0.1:\(peer.port)\"\n"
        }
        return text + "\n" + extraConfiguration
    }

    /// Starts accordd with `configuration` (the healthy one by default) without waiting.
    public func launch(configuration text: String? = nil) throws -> Subprocess {
        try (text ?? configuration()).write(toFile: configFile, atomically: true, encoding: .utf8)
        return try Subprocess.spawn("\(binaries)/accordd", ["--config", configFile] + options, stdout: logFile, stderr: logFile, environment: environment)
    }

    /// Starts accordd and waits until its admin API answers; fails with its log's tail if it ends.
    public func start() async throws {
        let process = try launch()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await ctl("status").succeeded { return }
            if let ended = try await process.wait(timeout: .zero) {
                self.process = nil
                throw TestFailure("\(label): accordd ended at start (\(ended)); log:\n\(logTail)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("\(label): the admin API did not answer within 30 s; log:\n\(logTail)")
    }

    /// Writes the configuration as the properties now describe it and runs `accordctl reload`.
    public func reload(configuration text: String? = nil) async throws -> CommandResult {
        try (text ?? configuration()).write(toFile: configFile, atomically: true, encoding: .utf8)
        return try await ctl("reload")
    }

    /// Sends `signal` and waits for the process to end (SIGKILL after 30 s).
    @discardableResult
    public func stop(_ signal: Int32 = SIGTERM) async throws -> Subprocess.Termination {
        guard let process else { throw TestFailure("\(label) is not running") }
        self.process = nil
        process.signal(signal)
        guard let termination = try await process.wait(timeout: .seconds(30)) else {
            process.signal(SIGKILL)
            _ = try await process.wait()
            throw TestFailure("\(label): did not stop within 30 s of signal \(signal)")
        }
        return termination
    }

    /// Whether the process ended by itself (a crash nobody caused).
    public func endedByItself() async throws -> Subprocess.Termination? {
        guard let process else { return nil }
        return try await process.wait(timeout: .zero)
    }

    public func ctl(_ arguments: String...) async throws -> CommandResult { try await ctl(arguments) }

    public func ctl(_ arguments: [String]) async throws -> CommandResult {
        try await Subprocess.run("\(binaries)/accordctl", arguments + ["--socket", socket], timeout: .seconds(60))
    }

    /// `accordctl … --json`, decoded; fails with what it printed if the command failed.
    public func json<Value: Decodable>(_ arguments: String..., as type: Value.Type = Value.self) async throws -> Value {
        try await json(arguments)
    }

    public func json<Value: Decodable>(_ arguments: [String], as type: Value.Type = Value.self) async throws -> Value {
        let result = try await ctl(arguments + ["--json"])
        guard result.succeeded else {
            throw TestFailure("\(label): accordctl \(arguments.joined(separator: " ")) failed (\(result.termination)): \(result.stderr)")
        }
        return try AdminAPI.decoder().decode(Value.self, from: Data(result.stdout.utf8))
    }

    /// `accordctl … --json`, decoded; nil when the command failed (refused, unreachable), which
    /// the chaos soak expects of nodes it kills.
    public func answer<Value: Decodable>(_ arguments: [String], as type: Value.Type = Value.self) async throws -> Value? {
        let result = try await ctl(arguments + ["--json"])
        guard result.succeeded else { return nil }
        return try? AdminAPI.decoder().decode(Value.self, from: Data(result.stdout.utf8))
    }

    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }
    public var logTail: String { String(log.suffix(4000)) }
    /// The size of the log file in bytes.
    public var logBytes: Int { ((try? FileManager.default.attributesOfItem(atPath: logFile))?[.size] as? Int) ?? 0 }

    /// The running process's memory.
    public var memory: ProcessMemory? { process.flatMap { ProcessMemory(pid: $0.pid) } }

    /// An admin API client on this node's socket (a connection of its own each time it is made).
    public func admin() -> AdminSocketClient { AdminSocketClient(socket: socket) }

    /// One sample of a Prometheus counter or gauge, e.g. `metric("accord_connections_refused_total", reason: "evicted")`.
    public func metric(_ name: String, reason: String? = nil) async throws -> Double {
        try await metric(name, label: reason.map { ("reason", $0) })
    }

    /// One sample of a metric with one label, e.g. `metric("accord_peer_connected", label: "peer", "globex/node1")`.
    public func metric(_ name: String, label: String, _ value: String) async throws -> Double {
        try await metric(name, label: (label, value))
    }

    private func metric(_ name: String, label: (String, String)?) async throws -> Double {
        let text = try await admin().get("/metrics").text
        let prefix = label.map { "\(name){\($0.0)=\"\($0.1)\"} " } ?? "\(name) "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Double(line.dropFirst(prefix.count)) ?? 0
    }

    /// The bytes of every file under the node's folder and its data directory (which may be
    /// elsewhere): database, WAL, log.
    public func allBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        let roots = dataDirectory.hasPrefix(folder + "/") ? [folder] : [folder, dataDirectory]
        for root in roots {
            for file in (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? [] {
                var isDirectory: ObjCBool = false
                let path = "\(root)/\(file)"
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                if let data = FileManager.default.contents(atPath: path) { bytes += data }
            }
        }
        return bytes
    }

    /// Kills the process if it runs (and reaps it), and removes the folder.
    public func remove() {
        if let process {
            process.signal(SIGKILL)
            _ = waitpid(process.pid, nil, 0)
            self.process = nil
        }
        try? FileManager.default.removeItem(atPath: folder)
    }
}
