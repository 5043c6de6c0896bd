import AccordTLS
import Foundation
import NIOCore

/// Certificates for the TLS tests, minted once per test process with certs-example/make-certs.sh
/// (the operators' own script) into a temporary folder: a consortium CA with acme, globex and
/// initech nodes, plus hostile ones — another CA, expired, not yet valid, revoked.
final class TestPKI: Sendable {
    static let shared: TestPKI = try! TestPKI()

    let directory: String

    private init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("accord-pki-\(UUID().uuidString)").path
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("certs-example/make-certs.sh").path
        let consortium = directory + "/consortium"
        try TestPKI.run(script, ["-o", consortium, "-d", "30", "acme:node1,revoked", "globex:node1", "initech:node1"])
        try TestPKI.run(script, ["-o", consortium, "--start", "20200101000000Z", "--end", "20210101000000Z", "acme:expired"])
        try TestPKI.run(script, ["-o", consortium, "--start", "20450101000000Z", "--end", "20460101000000Z", "acme:future"])
        try TestPKI.run(script, ["-o", consortium, "--revoke", "acme-revoked"])
        try TestPKI.run(script, ["-o", directory + "/rogue", "--ca-name", "Rogue CA", "acme:node1"])
    }

    var caPath: String { directory + "/consortium/ca.pem" }
    var crlPath: String { directory + "/consortium/crl.pem" }

    /// A node of the consortium CA (or, with `rogue`, of another CA that signs the same names).
    func configuration(
        _ node: String, rogue: Bool = false, crl: Bool = false, handshakeTimeout: TimeInterval = 30
    ) -> TLSConfiguration {
        let folder = directory + (rogue ? "/rogue/" : "/consortium/")
        return TLSConfiguration(
            certificateChainPath: folder + node + ".pem", privateKeyPath: folder + node + ".key",
            trustRootsPath: caPath, crlPath: crl ? crlPath : nil,
            handshakeTimeout: .milliseconds(Int64(handshakeTimeout * 1000))
        )
    }

    func context(_ node: String, rogue: Bool = false, crl: Bool = false, handshakeTimeout: TimeInterval = 30) throws -> TLSContext {
        try TLSContext(configuration: configuration(node, rogue: rogue, crl: crl, handshakeTimeout: handshakeTimeout))
    }

    func path(_ node: String, _ suffix: String) -> String { directory + "/consortium/" + node + suffix }

    private static func run(_ script: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PKIError(description: "make-certs.sh \(arguments.joined(separator: " ")): "
                + String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
    }

    struct PKIError: Error, CustomStringConvertible { let description: String }
}
