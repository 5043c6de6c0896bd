import AccordCrypto
import Foundation
import Testing

@Suite("X.509 certificates and the consortium CA")
struct CertificateTests {
    @Test("organisation, node name, validity and fingerprint are read as openssl reports them")
    func fields() async throws {
        let openssl = try OpenSSLCommand()
        defer { openssl.cleanUp() }
        try await openssl.makeCA("ca")
        try await openssl.makeNode("node", subject: "/C=DE/O=Globex Corporation/OU=Sync/CN=node-7", ca: "ca", days: 10)
        let certificate = try Certificate(pemRepresentation: openssl.read("node.pem"))

        #expect(certificate.organisation == "Globex Corporation")
        #expect(certificate.commonName == "node-7")

        let fingerprintLine = try await openssl.run(["x509", "-in", "node.pem", "-noout", "-fingerprint", "-sha256"])
        let expected = try #require(fingerprintLine.split(separator: "=").last).replacingOccurrences(of: ":", with: "")
            .trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        #expect(certificate.fingerprint.hex == expected)

        let seconds = try await openssl.run(["x509", "-in", "node.pem", "-noout", "-enddate", "-dateopt", "iso_8601"])
        #expect(seconds.contains(ISO8601DateFormatter.day(certificate.notAfter)))
        #expect(abs(certificate.notAfter.timeIntervalSince(certificate.notBefore) - 10 * 86_400) < 2)
        #expect(certificate.isValid(at: Date()))
        #expect(!certificate.isValid(at: Date().addingTimeInterval(11 * 86_400)))

        let reread = try Certificate(derRepresentation: certificate.derRepresentation)
        #expect(reread == certificate)
        #expect(reread.organisation == certificate.organisation)
    }

    @Test("non-ASCII organisations are read as UTF-8")
    func unicodeOrganisation() async throws {
        let openssl = try OpenSSLCommand()
        defer { openssl.cleanUp() }
        try await openssl.makeCA("ca")
        try await openssl.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-utf8",
            "-keyout", "u.key", "-out", "u.pem", "-days", "1", "-subj", "/O=Société Générale/CN=nœud",
        ])
        let certificate = try Certificate(pemRepresentation: openssl.read("u.pem"))
        #expect(certificate.organisation == "Société Générale")
        #expect(certificate.commonName == "nœud")
    }

    @Test("a certificate of our CA is trusted")
    func chainsToCA() async throws {
        let openssl = try OpenSSLCommand()
        defer { openssl.cleanUp() }
        try await openssl.makeCA("ca")
        try await openssl.makeNode("node", subject: "/O=acme/CN=node1", ca: "ca")
        let authority = try CertificateAuthority(pemFile: openssl.path("ca.pem"))
        try authority.verify(try Certificate(pemRepresentation: openssl.read("node.pem")))
        #expect(authority.certificates.count == 1)
    }

    @Test("a certificate of another CA is refused with OpenSSL's reason")
    func otherCA() async throws {
        let openssl = try OpenSSLCommand()
        defer { openssl.cleanUp() }
        try await openssl.makeCA("ca")
        try await openssl.makeCA("rogue")
        try await openssl.makeNode("node", subject: "/O=acme/CN=node1", ca: "rogue")
        let authority = try CertificateAuthority(pemFile: openssl.path("ca.pem"))
        let error = try #require(throws: CryptoError.self) {
            try authority.verify(try Certificate(pemRepresentation: openssl.read("node.pem")))
        }
        #expect(error.code == .untrustedCertificate)
        #expect(error.message.contains("unable to get local issuer certificate"))
    }

    @Test("a certificate outside its validity period is refused")
    func validityPeriod() async throws {
        let openssl = try OpenSSLCommand()
        defer { openssl.cleanUp() }
        try await openssl.makeCA("ca", days: 3650)
        try await openssl.makeNode("node", subject: "/O=acme/CN=node1", ca: "ca", days: 10)
        let authority = try CertificateAuthority(pemFile: openssl.path("ca.pem"))
        let certificate = try Certificate(pemRepresentation: openssl.read("node.pem"))

        let expired = try #require(throws: CryptoError.self) {
            try authority.verify(certificate, at: Date().addingTimeInterval(20 * 86_400))
        }
        #expect(expired.code == .untrustedCertificate)
        #expect(expired.message.contains("expired"))

        let early = try #require(throws: CryptoError.self) {
            try authority.verify(certificate, at: Date().addingTimeInterval(-2 * 86_400))
        }
        #expect(early.message.contains("not yet valid"))
    }

    @Test("a self-signed node certificate is not trusted")
    func selfSigned() async throws {
        let openssl = try OpenSSLCommand()
        defer { openssl.cleanUp() }
        try await openssl.makeCA("ca")
        try await openssl.makeCA("impostor", organisation: "acme")
        let authority = try CertificateAuthority(pemFile: openssl.path("ca.pem"))
        let error = try #require(throws: CryptoError.self) {
            try authority.verify(try Certificate(pemRepresentation: openssl.read("impostor.pem")))
        }
        #expect(error.code == .untrustedCertificate)
    }

    @Test("a subject without O or with two CNs is refused: the identity would be ambiguous")
    func ambiguousSubjects() async throws {
        let openssl = try OpenSSLCommand()
        defer { openssl.cleanUp() }
        try await openssl.makeCA("ca")
        try await openssl.makeNode("no-o", subject: "/CN=node1", ca: "ca")
        try await openssl.makeNode("two-cn", subject: "/O=acme/CN=a/CN=b", ca: "ca")
        for name in ["no-o.pem", "two-cn.pem"] {
            let error = try #require(throws: CryptoError.self) { try Certificate(pemRepresentation: openssl.read(name)) }
            #expect(error.code == .invalidCertificate, "\(name): \(error)")
        }
    }

    @Test("text that holds no certificate is refused", arguments: ["", "hello", "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n"])
    func garbage(text: String) {
        #expect(throws: CryptoError.self) { try Certificate(pemRepresentation: text) }
    }

    @Test("a missing CA file is named in the error")
    func missingFile() {
        let error = #expect(throws: CryptoError.self) { try CertificateAuthority(pemFile: "/nonexistent/ca.pem") }
        #expect(error?.code == .unreadableFile)
        #expect(error?.message.contains("/nonexistent/ca.pem") == true)
    }
}

extension ISO8601DateFormatter {
    /// `YYYY-MM-DD` of a date in UTC, as `openssl x509 -dateopt iso_8601` prints it.
    static func day(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.string(from: date)
    }
}
