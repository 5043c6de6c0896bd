import AccordCrypto
import Testing

@Suite("ECDSA P-256 keys and signatures")
struct P256KeyTests {
    let message = Array("the exact terms".utf8)

    @Test("a signature verifies with the signer's public key")
    func roundTrip() throws {
        let key = try P256PrivateKey.generate()
        let signature = try key.signature(for: message)
        #expect(signature.rawRepresentation.count == 64)
        #expect(key.publicKey.isValidSignature(signature, for: message))
    }

    @Test("a flipped bit anywhere in the message or the signature fails verification", arguments: [0, 7, 13])
    func flippedBits(bit: Int) throws {
        let key = try P256PrivateKey.generate()
        let signature = try key.signature(for: message)

        var tamperedMessage = message
        tamperedMessage[bit % tamperedMessage.count] ^= UInt8(1 << (bit % 8))
        #expect(!key.publicKey.isValidSignature(signature, for: tamperedMessage))

        for index in [0, 31, 32, 63] {
            var raw = signature.rawRepresentation
            raw[index] ^= UInt8(1 << (bit % 8))
            #expect(!key.publicKey.isValidSignature(try P256Signature(rawRepresentation: raw), for: message))
        }
    }

    @Test("another key's signature does not verify")
    func otherKey() throws {
        let signature = try P256PrivateKey.generate().signature(for: message)
        #expect(!(try P256PrivateKey.generate().publicKey.isValidSignature(signature, for: message)))
    }

    @Test("degenerate signatures are invalid, not crashes")
    func degenerateSignatures() throws {
        let key = try P256PrivateKey.generate()
        let zero = try P256Signature(rawRepresentation: [UInt8](repeating: 0, count: 64))
        let ones = try P256Signature(rawRepresentation: [UInt8](repeating: 0xff, count: 64))
        #expect(!key.publicKey.isValidSignature(zero, for: message))
        #expect(!key.publicKey.isValidSignature(ones, for: message))
    }

    @Test("a signature must be exactly 64 bytes", arguments: [0, 63, 65, 72])
    func signatureLength(length: Int) {
        #expect(throws: CryptoError.self) { try P256Signature(rawRepresentation: [UInt8](repeating: 1, count: length)) }
    }

    @Test("keys made by the openssl command load, sign and match their certificate")
    func opensslKeys() async throws {
        let openssl = try OpenSSLCommand()
        defer { openssl.cleanUp() }
        try await openssl.makeCA("ca")
        try await openssl.makeNode("node", subject: "/O=acme/CN=node1", ca: "ca")
        let key = try P256PrivateKey(pemRepresentation: openssl.read("node.key"))
        let certificate = try Certificate(pemRepresentation: openssl.read("node.pem"))
        #expect(try certificate.publicKey() == key.publicKey)
        #expect(try certificate.publicKey().isValidSignature(try key.signature(for: message), for: message))

        try await openssl.run(["ec", "-in", "node.key", "-pubout", "-out", "node.pub"])
        #expect(try P256PublicKey(pemRepresentation: openssl.read("node.pub")) == key.publicKey)
        #expect(try P256PublicKey(subjectPublicKeyInfo: key.publicKey.subjectPublicKeyInfo) == key.publicKey)
    }

    @Test("a generated key survives a PEM round trip")
    func pemRoundTrip() throws {
        let key = try P256PrivateKey.generate()
        let reloaded = try P256PrivateKey(pemRepresentation: key.pemRepresentation)
        #expect(reloaded.publicKey == key.publicKey)
    }

    @Test("keys that are not ECDSA P-256 are refused as unsupported")
    func unsupportedKeys() async throws {
        let openssl = try OpenSSLCommand()
        defer { openssl.cleanUp() }
        try await openssl.run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.key"])
        try await openssl.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "p384.key"])
        try await openssl.run(["genpkey", "-algorithm", "ED25519", "-out", "ed25519.key"])
        for name in ["rsa.key", "p384.key", "ed25519.key"] {
            let error = try #require(throws: CryptoError.self) { try P256PrivateKey(pemRepresentation: openssl.read(name)) }
            #expect(error.code == .unsupportedKey, "\(name): \(error)")
        }
    }

    @Test("garbage is an invalid key with OpenSSL's reason attached")
    func garbageKey() throws {
        let error = try #require(throws: CryptoError.self) {
            try P256PrivateKey(pemRepresentation: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        }
        #expect(error.code == .invalidKey)
        #expect(!error.openSSLReasons.isEmpty)
        #expect(throws: CryptoError.self) { try P256PublicKey(subjectPublicKeyInfo: [0x30, 0x03, 0x01, 0x01, 0x00]) }
    }
}
