import AccordCrypto
import AccordModel
import AccordSync
import Foundation
import Testing

@Suite("Certificate directory")
struct CertificateDirectoryTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("certs-example/example").path

    static func certificate(_ node: String) throws -> Certificate {
        try Certificate(pemRepresentation: String(contentsOfFile: "\(folder)/\(node).pem", encoding: .utf8))
    }

    static func key(_ node: String) throws -> P256PrivateKey {
        try P256PrivateKey(pemRepresentation: String(contentsOfFile: "\(folder)/\(node).key", encoding: .utf8))
    }

    @Test("a change verifies once its author's certificate was admitted, and not before")
    func admitsThenVerifies() throws {
        let directory = CertificateDirectory(authority: try CertificateAuthority(pemFile: "\(Self.folder)/ca.pem"))
        let node = NodeID(organisation: "acme", name: "node1")!
        let signer = ChangeSigner(node: node, key: try Self.key("acme-node1"))
        let change = try signer.sign(try Change.genesis(
            stamp: Stamp(millis: 1, counter: 0, node: node), edits: [.addParty("acme"), .addParty("globex")]
        ))
        let verifier = ChangeVerifier(directory: directory)
        let unknown = #expect(throws: ChangeRejection.self) { try verifier.verify(change.signed) }
        #expect(unknown?.code == .unknownAuthor)

        #expect(try directory.admit(try Self.certificate("acme-node1")) == node)
        #expect(try verifier.verify(change.signed).id == change.id)
        // Admitting the same certificate twice keeps one key.
        try directory.admit(try Self.certificate("acme-node1"))
        #expect(directory.publicKeys(of: node).count == 1)
    }

    @Test("a certificate from another CA, or expired, is not admitted")
    func refusesUntrusted() throws {
        let openssl = FileManager.default.temporaryDirectory.appendingPathComponent("accord-dir-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: openssl) }
        let script = URL(fileURLWithPath: Self.folder).deletingLastPathComponent().appendingPathComponent("make-certs.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script, "-o", openssl, "acme:node1"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let rogue = try Certificate(pemRepresentation: String(contentsOfFile: "\(openssl)/acme-node1.pem", encoding: .utf8))

        let directory = CertificateDirectory(authority: try CertificateAuthority(pemFile: "\(Self.folder)/ca.pem"))
        #expect(throws: CryptoError.self) { try directory.admit(rogue) }
        #expect(directory.publicKeys(of: NodeID(organisation: "acme", name: "node1")!).isEmpty)
        let afterExpiry = Date(timeIntervalSince1970: 5_000_000_000)  // 2128; the example set expires in 2126
        #expect(throws: CryptoError.self) { try directory.admit(try Self.certificate("acme-node1"), at: afterExpiry) }
    }
}
