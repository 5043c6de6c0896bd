import AccordTestSupport
import Foundation
import Testing

/// Runs the real `openssl` command to mint test certificates and keys, so that the crypto module
/// is checked against what operators' own tooling produces, not against itself.
struct OpenSSLCommand {
    let directory: URL

    /// A fresh temporary directory, removed by `cleanUp`.
    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("accord-crypto-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func read(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    /// Runs `openssl arguments…` in the directory and returns its standard output. The command
    /// is a polled child process: no thread of the caller's blocks while it runs.
    @discardableResult
    func run(_ arguments: [String]) async throws -> String {
        let result = try await Subprocess.run(
            "/bin/bash", ["-c", #"cd "$0" && exec /usr/bin/openssl "$@""#, directory.path] + arguments
        )
        guard result.succeeded else {
            throw CommandFailure(arguments: arguments, termination: result.termination, standardError: result.stderr)
        }
        return result.stdout
    }

    struct CommandFailure: Error, CustomStringConvertible {
        let arguments: [String]
        let termination: Subprocess.Termination
        let standardError: String
        var description: String { "openssl \(arguments.joined(separator: " ")) ended with \(termination): \(standardError)" }
    }

    /// A self-signed CA with an EC P-256 key: `<name>.key`, `<name>.pem`.
    func makeCA(_ name: String, organisation: String = "Accord Test Consortium", days: Int = 30) async throws {
        try await run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "\(name).key", "-out", "\(name).pem", "-days", "\(days)",
            "-subj", "/O=\(organisation)/CN=\(name)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    /// A node certificate signed by `ca`: `<name>.key`, `<name>.pem`.
    func makeNode(_ name: String, subject: String, ca: String, days: Int = 10, keyAlgorithm: [String]? = nil) async throws {
        try await run(
            ["req", "-new", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject]
                + (keyAlgorithm ?? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
        )
        try await run([
            "x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key",
            "-CAcreateserial", "-out", "\(name).pem", "-days", "\(days)",
        ])
    }
}
