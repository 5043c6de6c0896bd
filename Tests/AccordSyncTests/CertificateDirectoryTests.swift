import AccordCrypto
import AccordModel
import AccordSync
import AccordTestSupport
import Foundation
import Testing

@Suite("Certificate directory")
struct CertificateDirectoryTests {
    static let folder = TestCertificates.examples

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
        #expect(directory.keys(of: node).count == 1)
    }

    @Test("a certificate from another CA, or not yet valid, is not admitted; an expired one is, for the changes it signed while valid")
    func refusesUntrusted() async throws {
        let openssl = TestCertificates.temporaryFolder("accord-dir")
        defer { try? FileManager.default.removeItem(atPath: openssl) }
        try await TestCertificates.make(["-o", openssl, "acme:node1"])
        let rogue = try Certificate(pemRepresentation: String(contentsOfFile: "\(openssl)/acme-node1.pem", encoding: .utf8))

        let directory = CertificateDirectory(authority: try CertificateAuthority(pemFile: "\(Self.folder)/ca.pem"))
        #expect(throws: CryptoError.self) { try directory.admit(rogue) }
        #expect(directory.keys(of: NodeID(organisation: "acme", name: "node1")!).isEmpty)
        let afterExpiry = Date(timeIntervalSince1970: 5_000_000_000)  // 2128; the example set expires in 2126
        #expect(try directory.admit(try Self.certificate("acme-node1"), at: afterExpiry) == NodeID(organisation: "acme", name: "node1")!)

        // Valid for a minute from now under the CA minted above; admitted a day later.
        try await TestCertificates.make(["-o", openssl, "--end", TestCertificates.validityDate(Date().addingTimeInterval(60)), "acme:short"])
        let minted = CertificateDirectory(authority: try CertificateAuthority(pemFile: "\(openssl)/ca.pem"))
        let short = try Certificate(pemRepresentation: String(contentsOfFile: "\(openssl)/acme-short.pem", encoding: .utf8))
        #expect(try minted.admit(short, at: Date().addingTimeInterval(86_400)) == NodeID(organisation: "acme", name: "short")!)
        let pki = try await HostilePKI.shared
        let future = try Certificate(pemRepresentation: String(contentsOfFile: pki.path("acme-future", ".pem"), encoding: .utf8))
        #expect(throws: CryptoError.self) { try CertificateDirectory(authority: try CertificateAuthority(pemFile: pki.caPath)).admit(future) }
    }

    @Test("a revoked certificate still vouches for what its node signed before the revocation, never for what it signed after")
    func revocationByStamp() async throws {
        let folder = TestCertificates.temporaryFolder("accord-crl")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestCertificates.make(["-o", folder, "acme:node1", "globex:node1,node2"])
        let beforeRevocation = UInt64(Date().timeIntervalSince1970 * 1000) - 60_000
        try await TestCertificates.make(["-o", folder, "--revoke", "globex-node2"])
        let authority = try CertificateAuthority(pemFile: "\(folder)/ca.pem")
        let revocations = try RevocationList(pemFile: "\(folder)/crl.pem", issuedBy: authority.certificates)
        func certificate(_ node: String) throws -> Certificate {
            try Certificate(pemRepresentation: String(contentsOfFile: "\(folder)/\(node).pem", encoding: .utf8))
        }
        let revoked = try certificate("globex-node2")
        let revokedAt = try #require(revocations.revocationDate(of: revoked))
        #expect(revocations.revocationDate(of: try certificate("globex-node1")) == nil)

        let directory = CertificateDirectory(authority: authority, revocations: revocations)
        let node = try directory.admit(revoked)
        #expect(directory.isRevoked(revoked))
        let signer = ChangeSigner(
            node: node, key: try P256PrivateKey(pemRepresentation: String(contentsOfFile: "\(folder)/globex-node2.key", encoding: .utf8))
        )
        func genesis(at millis: UInt64) throws -> SignedChange {
            try signer.sign(try Change.genesis(stamp: Stamp(millis: millis, counter: 0, node: node), edits: [.addParty("acme"), .addParty("globex")])).signed
        }
        let verifier = ChangeVerifier(directory: directory)
        #expect(throws: Never.self) { try verifier.verify(try genesis(at: beforeRevocation)) }
        let after = #expect(throws: ChangeRejection.self) {
            try verifier.verify(try genesis(at: UInt64(revokedAt.timeIntervalSince1970 * 1000) + 1))
        }
        #expect(after?.code == .revokedAuthor, "\(String(describing: after))")

        // A new list that no longer names it (say, a hold lifted) re-dates it; one that names
        // another node reports that node as newly revoked.
        #expect(directory.replaceTrust(revocations: .empty).isEmpty)
        #expect(throws: Never.self) { try verifier.verify(try genesis(at: UInt64(Date().timeIntervalSince1970 * 1000))) }
        #expect(directory.replaceTrust(revocations: revocations) == [node])
    }

    @Test("a revocation list signed by another CA is refused, naming the issuer")
    func foreignRevocationList() async throws {
        let folder = TestCertificates.temporaryFolder("accord-crl")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestCertificates.make(["-o", folder, "--ca-name", "Rogue CA", "--crl", "acme:node1"])
        let authority = try CertificateAuthority(pemFile: "\(Self.folder)/ca.pem")
        let error = #expect(throws: CryptoError.self) {
            try RevocationList(pemFile: "\(folder)/crl.pem", issuedBy: authority.certificates)
        }
        #expect(error?.message.contains("Rogue CA") == true, "\(String(describing: error))")
    }
}
