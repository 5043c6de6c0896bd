import AccordAdminAPI
import AccordTestSupport
import Foundation

/// One `accordd` of the soak: its folder, configuration and process, driven with `accordctl`.
final class ChaosNode: @unchecked Sendable {
    let organisation: String
    let name: String
    let folder: String
    let port: Int
    let binaries: String
    private(set) var process: Subprocess?

    var label: String { "\(organisation)/\(name)" }
    var configFile: String { "\(folder)/accordd.toml" }
    var socket: String { "\(folder)/admin.sock" }
    var logFile: String { "\(folder)/accordd.log" }
    var isRunning: Bool { process != nil }

    init(organisation: String, name: String, root: String, port: Int, binaries: String) throws {
        self.organisation = organisation
        self.name = name
        self.port = port
        self.binaries = binaries
        folder = "\(root)/\(organisation)-\(name)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    /// Writes the configuration: peers are reached through `proxies` (organisation, proxy port).
    func configure(certificates: String, peers: [(organisation: String, port: Int)]) throws {
        var text = """
            [node]
            organisation = "\(organisation)"
            name = "\(name)"
            data_directory = "data"

            [listen]
            address = "127.0.0.1:\(port)"

            [tls]
            certificate = "\(certificates)/\(organisation)-\(name).pem"
            private_key = "\(certificates)/\(organisation)-\(name).key"
            ca = "\(certificates)/ca.pem"

            [admin]
            socket = "admin.sock"

            [sync]
            keepalive_seconds = 1
            idle_timeout_seconds = 4
            reconcile_interval_seconds = 5

            """
        for peer in peers { text += "\n[[peers]]\norganisation = \"\(peer.organisation)\"\naddress = \"127.0.0.1:\(peer.port)\"\n" }
        try text.write(toFile: configFile, atomically: true, encoding: .utf8)
    }

    /// Starts accordd and waits until it answers (or fails with its log's tail).
    func start() async throws {
        let process = try Subprocess.spawn("\(binaries)/accordd", ["--config", configFile], stdout: logFile, stderr: logFile)
        self.process = process
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await ctl(["status"]).succeeded { return }
            if let ended = try await process.wait(timeout: .zero) {
                self.process = nil
                throw ChaosFailure("\(label) ended at start (\(ended)):\n\(logTail)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ChaosFailure("\(label) did not answer within 30 s of starting:\n\(logTail)")
    }

    /// SIGKILL, as a crash or a power cut of the process would.
    func kill() async throws {
        guard let process else { return }
        process.signal(SIGKILL)
        _ = try await process.wait(timeout: .seconds(30))
        self.process = nil
    }

    /// SIGTERM; returns how it ended.
    func stop() async throws -> Subprocess.Termination? {
        guard let process else { return nil }
        process.signal(SIGTERM)
        let termination = try await process.wait(timeout: .seconds(30))
        if termination == nil { process.signal(SIGKILL); _ = try await process.wait() }
        self.process = nil
        return termination
    }

    /// Whether the process ended by itself (a crash the soak did not cause).
    func endedByItself() async throws -> Subprocess.Termination? {
        guard let process else { return nil }
        return try await process.wait(timeout: .zero)
    }

    func ctl(_ arguments: [String]) async throws -> CommandResult {
        try await Subprocess.run("\(binaries)/accordctl", arguments + ["--socket", socket], timeout: .seconds(60))
    }

    /// `accordctl … --json`, decoded; nil when the command failed (refused, unreachable).
    func json<Value: Decodable>(_ arguments: [String], as type: Value.Type = Value.self) async throws -> Value? {
        let result = try await ctl(arguments + ["--json"])
        guard result.succeeded else { return nil }
        return try? AdminAPI.decoder().decode(Value.self, from: Data(result.stdout.utf8))
    }

    var logTail: String { String(((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "").suffix(3000)) }

    /// Every byte of the node's files: database, WAL, log.
    func allBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        for file in (try? FileManager.default.subpathsOfDirectory(atPath: folder)) ?? [] {
            if let data = FileManager.default.contents(atPath: "\(folder)/\(file)") { bytes += data }
        }
        return bytes
    }
}

struct ChaosFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
