import AccordAdminAPI
import AccordTestSupport
import Foundation

/// Where the package's built executables are: next to the test bundle.
enum Binaries {
    static let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    static let accordd = folder.appendingPathComponent("accordd").path
    static let accordctl = folder.appendingPathComponent("accordctl").path
    static let hostilePeer = folder.appendingPathComponent("accord-hostile-peer").path
    static let certificates = TestCertificates.examples
}

/// One real `accordd` process with its own folder (configuration, data, admin socket, log),
/// driven by the real `accordctl` binary. `@unchecked Sendable`: a test drives its nodes from
/// its own task.
final class DaemonNode: @unchecked Sendable {
    let organisation: String
    let folder: String
    let port: Int
    var peers: [DaemonNode] = []
    /// Organisations accepted as peers that no node of this test runs for (an attacker's, say):
    /// dialled at a port nothing listens on.
    var acceptedOrganisations: [String] = []
    /// The certificate folder: `ca.pem`, `ORG-NODE.pem`/`.key`, perhaps `crl.pem`.
    var certificates = Binaries.certificates
    /// This node's name (its certificate's CN).
    var name = "node1"
    /// A revocation list for `[tls] crl`.
    var crl: String?
    /// accordd options besides `--config`.
    var options: [String] = []
    private(set) var process: Subprocess?

    var configFile: String { "\(folder)/accordd.toml" }
    var dataDirectory: String { "\(folder)/data" }
    var socket: String { "\(folder)/admin.sock" }
    var logFile: String { "\(folder)/accordd.log" }

    init(_ organisation: String, port: Int) throws {
        self.organisation = organisation
        self.port = port
        // Short: a Unix socket path must fit in 108 bytes.
        folder = "/tmp/accord-e2e-\(UUID().uuidString.prefix(8))-\(organisation)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    /// The configuration a healthy node of this organisation runs with; tests break it on purpose.
    func configuration(dataDirectory: String? = nil, socket: String? = nil, certificate: String? = nil) -> String {
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
            ca = "\(certificates)/ca.pem"
            \(crl.map { "crl = \"\($0)\"" } ?? "")

            [admin]
            socket = "\(socket ?? self.socket)"

            [sync]
            keepalive_seconds = 1
            idle_timeout_seconds = 5

            """
        for peer in peers {
            text += "\n[[peers]]\norganisation = \"\(peer.organisation)\"\naddress = \"127.0.0.1:\(peer.port)\"\n"
        }
        for organisation in acceptedOrganisations {
            text += "\n[[peers]]\norganisation = \"\(organisation)\"\naddress = \"127.0.0.1:1\"\n"
        }
        return text
    }

    /// Starts accordd with `configuration` (the healthy one by default) without waiting.
    func launch(configuration text: String? = nil) throws -> Subprocess {
        try (text ?? configuration()).write(toFile: configFile, atomically: true, encoding: .utf8)
        return try Subprocess.spawn(Binaries.accordd, ["--config", configFile] + options, stdout: logFile, stderr: logFile)
    }

    /// Starts accordd and waits until its admin API answers.
    func start() async throws {
        let process = try launch()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await ctl("status").succeeded { return }
            if let ended = try await process.wait(timeout: .zero) {
                throw DaemonFailure("\(organisation): accordd ended at start (\(ended)); log:\n\(log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DaemonFailure("\(organisation): the admin API did not answer within 30 s; log:\n\(log)")
    }

    /// Sends `signal` and waits for the process to end.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM) async throws -> Subprocess.Termination {
        guard let process else { throw DaemonFailure("\(organisation) is not running") }
        process.signal(signal)
        guard let termination = try await process.wait(timeout: .seconds(30)) else {
            process.signal(SIGKILL)
            _ = try await process.wait()
            throw DaemonFailure("\(organisation): did not stop within 30 s of signal \(signal)")
        }
        self.process = nil
        return termination
    }

    /// Runs accordctl against this node.
    func ctl(_ arguments: String...) async throws -> CommandResult {
        try await ctl(arguments)
    }

    func ctl(_ arguments: [String]) async throws -> CommandResult {
        try await Subprocess.run(Binaries.accordctl, arguments + ["--socket", socket])
    }

    /// Runs `accordctl … --json` and decodes its output; fails with what it printed if it failed.
    func json<Value: Decodable>(_ arguments: String..., as type: Value.Type = Value.self) async throws -> Value {
        let result = try await ctl(arguments + ["--json"])
        guard result.succeeded else {
            throw DaemonFailure("\(organisation): accordctl \(arguments.joined(separator: " ")) failed (\(result.termination)): \(result.stderr)")
        }
        return try AdminAPI.decoder().decode(Value.self, from: Data(result.stdout.utf8))
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// The size of the log file in bytes.
    var logBytes: Int { ((try? FileManager.default.attributesOfItem(atPath: logFile))?[.size] as? Int) ?? 0 }

    /// The running process's memory.
    var memory: ProcessMemory? { process.flatMap { ProcessMemory(pid: $0.pid) } }

    /// An admin API client on this node's socket (a connection of its own each time it is made).
    func admin() -> AdminSocketClient { AdminSocketClient(socket: socket) }

    /// One sample of a Prometheus counter or gauge, e.g. `metric("accord_connections_refused_total", reason: "evicted")`.
    func metric(_ name: String, reason: String? = nil) throws -> Double {
        let text = try admin().get("/metrics").text
        let prefix = reason.map { "\(name){reason=\"\($0)\"} " } ?? "\(name) "
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
        return Double(line.dropFirst(prefix.count)) ?? 0
    }

    /// The bytes of every file under the node's folder: database, WAL, log.
    func allBytes() throws -> [UInt8] {
        var bytes: [UInt8] = []
        let enumerator = FileManager.default.enumerator(atPath: folder)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = "\(folder)/\(path)"
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            if let data = FileManager.default.contents(atPath: full) { bytes += data }
        }
        return bytes
    }

    func remove() {
        if let process {
            process.signal(SIGKILL)
            _ = waitpid(process.pid, nil, 0)  // no zombie left behind
        }
        try? FileManager.default.removeItem(atPath: folder)
    }
}

struct DaemonFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A full mesh of nodes on free loopback ports.
func daemonMesh(_ organisations: [String]) throws -> [DaemonNode] {
    let ports = try freePorts(organisations.count)
    let nodes = try zip(organisations, ports).map { try DaemonNode($0, port: $1) }
    for node in nodes { node.peers = nodes.filter { $0 !== node } }
    return nodes
}

/// Stops every node (SIGKILL for any left running) and removes their folders, also when the body throws.
func withNodes<Result>(_ nodes: [DaemonNode], _ body: () async throws -> Result) async throws -> Result {
    do {
        let result = try await body()
        for node in nodes { node.remove() }
        return result
    } catch {
        for node in nodes {
            print("--- \(node.organisation) log ---\n\(node.log.suffix(4000))")
            node.remove()
        }
        throw error
    }
}
