public import Foundation

/// Where the repository's certificate material is, and a way to mint more with the operators' own
/// script (certs-example/make-certs.sh) for tests that need revoked, expired or foreign
/// certificates.
public enum TestCertificates {
    /// The repository's root folder.
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    /// The published example set: a CA, acme, globex and initech node1 (keys are public: tests only).
    public static let examples = "\(repository)/certs-example/example"
    public static let makeCerts = "\(repository)/certs-example/make-certs.sh"

    /// Runs make-certs.sh with `arguments` (e.g. `["-o", folder, "acme:node1"]`).
    public static func make(_ arguments: [String]) throws {
        try shell(makeCerts, arguments)
    }

    /// Runs a bash script (or a bash command with `-c`), failing with what it printed on error.
    public static func shell(_ script: String, _ arguments: [String] = []) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("\(([script] + arguments).joined(separator: " ")): \(String(decoding: output, as: UTF8.self))")
        }
    }

    /// A new folder under the temporary directory, for minted certificates.
    public static func temporaryFolder(_ prefix: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    }
}
