import AccordCrypto
import AccordModel
import AccordSync
import AccordTestSupport
import Foundation
import Testing

/// What protocol version 4 adds (docs/vectors/protocol-v4.json): a passkey signature over the
/// "approve" change of protocol-v1.json — the node statement signed with that file's acme test
/// key, the WebAuthn assertion made with a test passkey whose private key is in the file — and
/// the `passkeySignatures` frame that carries it. Rebuilt and compared like the other vectors;
/// `ACCORD_WRITE_VECTORS=1` rewrites it.
@Suite("Conformance vectors, version 4")
struct PasskeyVectorTests {
    static let file = "\(ConformanceVectorTests.folder)/protocol-v4.json"

    struct VersionFour: Codable, Equatable {
        struct PasskeySignatureVector: Codable, Equatable {
            var change: String
            var signer: String
            var person: String
            /// The test passkey: never use it for anything else.
            var passkeyPrivateKeyPEM: String
            var credentialID: String
            var publicKey: String
            var relyingParty: String
            var origin: String
            var registeredAt: UInt64
            /// SHA-256 of the approval's signed message (`accord/approval/v1\n` || agreement || terms hash).
            var challenge: String
            var authenticatorData: String
            var clientDataJSON: String
            var assertionSignature: String
            var canonical: String
            var signedMessage: String
            var signature: String
            var encoded: String
        }

        var format: String
        var passkeySignatures: [PasskeySignatureVector]
        var frames: [ConformanceVectorTests.Vectors.FrameVector]
    }

    static func build(reusing committed: VersionFour?) throws -> VersionFour {
        let one = try #require(ConformanceVectorTests.load(), "protocol-v1.json and protocol-v2.json")
        let acmeKey = try #require(one.keys.first { $0.node == "acme/n1" })
        let signer = ChangeSigner(node: NodeID(organisation: "acme", name: "n1")!, key: try P256PrivateKey(pemRepresentation: acmeKey.privateKeyPEM))
        let vector = try #require(one.changes.first { $0.name == "approve" })
        let approval = VerifiedChange(fromTrustedLog: try SignedChange(encoded: HexEncoding.decode(vector.signed)!))
        guard case .approve(_, let termsHash, _) = try #require(approval.change.edits.first) else { throw VectorError() }
        let old = committed?.passkeySignatures.first
        let passkey = try old.map { try P256PrivateKey(pemRepresentation: $0.passkeyPrivateKeyPEM) } ?? P256PrivateKey.generate()
        let credential = try PasskeySignature.Credential(
            id: Array("accord-test-passkey".utf8), publicKey: passkey.publicKey, relyingParty: "accord.acme.example", origin: "https://accord.acme.example",
            registeredAt: 1_796_000_000_000
        )
        let challenge = PasskeySignature.challenge(agreement: approval.change.agreement, termsHash: termsHash)
        let authenticatorData = SHA256Digest(hashing: Array(credential.relyingParty.utf8)).bytes + [0x05, 0, 0, 0, 1]
        let clientData = Array(#"{"type":"webauthn.get","challenge":"\#(Base64URL.encode(challenge))","origin":"\#(credential.origin)","crossOrigin":false}"#.utf8)
        let directory = StaticAuthorDirectory([signer.node: signer.publicKey])
        // ECDSA signatures are randomised: a committed statement that still holds is kept.
        var statement: PasskeySignature
        if let old, let bytes = HexEncoding.decode(old.encoded), let previous = try? PasskeySignature(encoded: bytes),
            previous.credential == credential, previous.assertion.authenticatorData == authenticatorData, previous.assertion.clientDataJSON == clientData,
            previous.person == "00u1a2b3c4", previous.problem(for: approval, by: directory) == nil
        {
            statement = previous
        } else {
            let signature = try passkey.signature(for: authenticatorData + SHA256Digest(hashing: clientData).bytes).derRepresentation
            let assertion = try PasskeySignature.Assertion(authenticatorData: authenticatorData, clientDataJSON: clientData, signature: signature)
            statement = try signer.passkeySignature(of: approval, person: "00u1a2b3c4", credential: credential, assertion: assertion)
        }
        let entry = VersionFour.PasskeySignatureVector(
            change: approval.id.hex, signer: signer.node.description, person: statement.person, passkeyPrivateKeyPEM: passkey.pemRepresentation,
            credentialID: HexEncoding.encode(credential.id), publicKey: HexEncoding.encode(credential.publicKey.subjectPublicKeyInfo),
            relyingParty: credential.relyingParty, origin: credential.origin, registeredAt: credential.registeredAt, challenge: HexEncoding.encode(challenge),
            authenticatorData: HexEncoding.encode(authenticatorData), clientDataJSON: String(decoding: clientData, as: UTF8.self),
            assertionSignature: HexEncoding.encode(statement.assertion.signature), canonical: HexEncoding.encode(statement.canonicalBytes),
            signedMessage: HexEncoding.encode(PasskeySignature.signedMessage(statement.canonicalBytes)),
            signature: HexEncoding.encode(statement.signature.rawRepresentation), encoded: HexEncoding.encode(statement.encoded)
        )
        return VersionFour(
            format: "What Accord protocol version 4 adds to version 3 (protocol-v1.json … protocol-v3.json): passkey signatures over approvals (docs/encoding.md, \"Passkey signature\"; docs/protocol.md); hex is lower case; the private keys are test keys",
            passkeySignatures: [entry],
            frames: [
                .init(message: "passkeySignatures: one, of the approve change (version 4)", bytes: HexEncoding.encode(FrameEncoder.frame(.passkeySignatures([statement.encoded]))))
            ]
        )
    }

    struct VectorError: Error {}

    @Test("every vector of protocol-v4.json is what the code produces, and its passkey signature holds for the approve change of protocol-v1.json")
    func vectorsMatchTheCode() throws {
        guard let file = try ConformanceVectorTests.checked(Self.file, build: Self.build(reusing:)) else { return }
        let statement = try PasskeySignature(encoded: HexEncoding.decode(file.passkeySignatures[0].encoded)!)
        #expect(statement.change.hex == file.passkeySignatures[0].change)
        #expect(FrameEncoder.frame(.passkeySignatures([statement.encoded])) == HexEncoding.decode(file.frames[0].bytes))
    }
}
