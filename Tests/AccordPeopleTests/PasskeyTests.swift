import AccordCrypto
import AccordModel
import AccordPeople
import AccordTestSupport
import Testing

/// Passkeys: a registration and an assertion that Chromium 156's virtual authenticator made
/// (recorded at http://localhost:8765), read and verified by the code; and the refusals of the
/// attacks on an approval's passkey signature, with a software authenticator.
@Suite("Passkeys (WebAuthn)")
struct PasskeyTests {
    enum Chromium {
        static let origin = "http://localhost:8765"
        static let registrationData = "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2NFAAAAAQECAwQFBgcIAQIDBAUGBwgAIJCHurq2QhoHraSIWumCAacbvD8vtph8cutGyO_IgwNfpQECAyYgASFYIFGY8_oqAep8x_2TyO-2DuJ_50jvTYSJvAobAFt4ZxVHIlggR1fq-Au4tfTZ0AI31NxTxLDqAebtZ_wQOSKSzdAzp90"
        static let registrationClientData = "eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoibnZvNXhwbTRDTnRQUTRtZmo5QlFSeFZtZ3dMSVM2UFJrUlR1elVwY0hnSSIsIm9yaWdpbiI6Imh0dHA6Ly9sb2NhbGhvc3Q6ODc2NSIsImNyb3NzT3JpZ2luIjpmYWxzZX0"
        static let registrationChallenge = "nvo5xpm4CNtPQ4mfj9BQRxVmgwLIS6PRkRTuzUpcHgI"
        static let credentialID = "kIe6urZCGgetpIha6YIBpxu8Py-2mHxy60bI78iDA18"
        /// What the browser's `getPublicKey()` returned.
        static let publicKey = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUZjz-ioB6nzH_ZPI77YO4n_nSO9NhIm8ChsAW3hnFUdHV-r4C7i19NnQAjfU3FPEsOoB5u1n_BA5IpLN0DOn3Q"
        static let assertionData = "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAg"
        static let assertionClientData = "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoicVVKdXVxZk9lbmdNSXlpXzdJUmZwRWlYcm52dXkzVF8tM0ZnMVRGanVaayIsIm9yaWdpbiI6Imh0dHA6Ly9sb2NhbGhvc3Q6ODc2NSIsImNyb3NzT3JpZ2luIjpmYWxzZX0"
        static let assertionChallenge = "qUJuuqfOengMIyi_7IRfpEiXrnvuy3T_-3Fg1TFjuZk"
        static let assertionSignature = "MEUCIEFVrb7vcU6He3pQq7dNGCGwA5hCbp4qY-ycZ_8Du8MoAiEAgoCic7Kc53Hz0KqdFmU-MXnM1SRqUZidlD-4v-KCRH0"

        static func bytes(_ text: String) -> [UInt8] { Base64URL.decode(text)! }
    }

    @Test("Chromium's registration gives the key its browser reported; one for another challenge, origin or relying party is refused")
    func chromiumRegistration() throws {
        let registration = try PasskeyRegistration(
            authenticatorData: Chromium.bytes(Chromium.registrationData), clientDataJSON: Chromium.bytes(Chromium.registrationClientData),
            challenge: Chromium.bytes(Chromium.registrationChallenge), origin: Chromium.origin, relyingParty: "localhost"
        )
        #expect(registration.credentialID == Chromium.bytes(Chromium.credentialID))
        #expect(registration.publicKey.subjectPublicKeyInfo == Chromium.bytes(Chromium.publicKey))
        #expect(registration.signCount == 1)
        for (challenge, origin, relyingParty) in [
            (Array(repeating: UInt8(7), count: 32), Chromium.origin, "localhost"), (Chromium.bytes(Chromium.registrationChallenge), "http://localhost:8766", "localhost"),
            (Chromium.bytes(Chromium.registrationChallenge), Chromium.origin, "example.com"),
        ] {
            #expect(throws: PasskeyRegistration.Refusal.self) {
                try PasskeyRegistration(
                    authenticatorData: Chromium.bytes(Chromium.registrationData), clientDataJSON: Chromium.bytes(Chromium.registrationClientData),
                    challenge: challenge, origin: origin, relyingParty: relyingParty
                )
            }
        }
        // Cut anywhere, the authenticator data is refused, never read past its end.
        let whole = Chromium.bytes(Chromium.registrationData)
        for length in stride(from: 0, to: whole.count, by: 7) {
            #expect(throws: PasskeyRegistration.Refusal.self) {
                try PasskeyRegistration(
                    authenticatorData: Array(whole.prefix(length)), clientDataJSON: Chromium.bytes(Chromium.registrationClientData),
                    challenge: Chromium.bytes(Chromium.registrationChallenge), origin: Chromium.origin, relyingParty: "localhost"
                )
            }
        }
    }

    @Test("Chromium's assertion verifies with the registered key for its challenge; not for another challenge, origin, relying party, key or altered byte")
    func chromiumAssertion() throws {
        let key = try P256PublicKey(subjectPublicKeyInfo: Chromium.bytes(Chromium.publicKey))
        let credential = try PasskeySignature.Credential(
            id: Chromium.bytes(Chromium.credentialID), publicKey: key, relyingParty: "localhost", origin: Chromium.origin, registeredAt: 0
        )
        let assertion = try PasskeySignature.Assertion(
            authenticatorData: Chromium.bytes(Chromium.assertionData), clientDataJSON: Chromium.bytes(Chromium.assertionClientData),
            signature: Chromium.bytes(Chromium.assertionSignature)
        )
        let challenge = Chromium.bytes(Chromium.assertionChallenge)
        #expect(assertion.problem(challenge: challenge, credential: credential) == nil)
        #expect(assertion.problem(challenge: Array(challenge.reversed()), credential: credential) != nil)
        let elsewhere = try PasskeySignature.Credential(id: credential.id, publicKey: key, relyingParty: "localhost", origin: "http://localhost:8766", registeredAt: 0)
        #expect(assertion.problem(challenge: challenge, credential: elsewhere) != nil)
        let otherParty = try PasskeySignature.Credential(id: credential.id, publicKey: key, relyingParty: "example.com", origin: Chromium.origin, registeredAt: 0)
        #expect(assertion.problem(challenge: challenge, credential: otherParty)?.contains("relying party") == true)
        let otherKey = try PasskeySignature.Credential(
            id: credential.id, publicKey: try P256PrivateKey.generate().publicKey, relyingParty: "localhost", origin: Chromium.origin, registeredAt: 0
        )
        #expect(assertion.problem(challenge: challenge, credential: otherKey)?.contains("does not verify") == true)
        var data = assertion.authenticatorData
        data[36] ^= 1  // the counter
        let altered = try PasskeySignature.Assertion(authenticatorData: data, clientDataJSON: assertion.clientDataJSON, signature: assertion.signature)
        #expect(altered.problem(challenge: challenge, credential: credential)?.contains("does not verify") == true)
    }

    @Test("a passkey signature round-trips, verifies for its approval, and is refused for another agreement's or terms' challenge, without UV, or by another node")
    func passkeySignature() throws {
        let node = ChangeSigner(node: NodeID(organisation: "acme", name: "n1")!, key: try P256PrivateKey.generate())
        var clock = HybridLogicalClock(node: node.node)
        let genesis = try node.sign(try Change.genesis(stamp: clock.stamp(physicalMillis: 1_800_000_000_000), edits: [.set(.title, .text("T")), .addParty("acme")]))
        let agreement = genesis.change.agreement
        let terms = SHA256Digest(hashing: [1, 2, 3])
        let approval = try node.sign(Change(
            agreement: agreement, stamp: clock.stamp(physicalMillis: 1_800_000_000_001), dependencies: [genesis.id],
            edits: [.approve(organisation: "acme", termsHash: terms, signature: try node.approvalSignature(agreement: agreement, termsHash: terms))]
        ))
        var authenticator = try SoftwareAuthenticator(origin: "http://localhost:7601")
        let credential = try authenticator.credential(registeredAt: 1_800_000_000_000)
        let directory = StaticAuthorDirectory([node.node: node.publicKey])
        let challenge = PasskeySignature.challenge(agreement: agreement, termsHash: terms)

        let good = try node.passkeySignature(of: approval, person: "alice", credential: credential, assertion: try authenticator.assertion(challenge: challenge))
        #expect(try PasskeySignature(encoded: good.encoded) == good)
        #expect(good.problem(for: approval, by: directory) == nil)
        #expect(good.problem(for: genesis, by: directory) != nil, "bound to its approval's change")

        let otherAgreement = PasskeySignature.challenge(agreement: AgreementID(genesis: approval.id), termsHash: terms)
        let otherTerms = PasskeySignature.challenge(agreement: agreement, termsHash: SHA256Digest(hashing: [4]))
        for wrong in [otherAgreement, otherTerms] {
            let statement = try node.passkeySignature(of: approval, person: "alice", credential: credential, assertion: try authenticator.assertion(challenge: wrong))
            #expect(statement.problem(for: approval, by: directory)?.contains("challenge") == true)
        }
        let unverified = try node.passkeySignature(
            of: approval, person: "alice", credential: credential, assertion: try authenticator.assertion(challenge: challenge, flags: 0x01)
        )
        #expect(unverified.problem(for: approval, by: directory)?.contains("UV") == true)
        let impostor = ChangeSigner(node: node.node, key: try P256PrivateKey.generate())
        let forged = try impostor.passkeySignature(of: approval, person: "alice", credential: credential, assertion: try authenticator.assertion(challenge: challenge))
        #expect(forged.problem(for: approval, by: directory)?.contains("author did not sign") == true)

        // Malformed: trailing bytes, a cut, an unknown format.
        #expect(throws: ChangeRejection.self) { try PasskeySignature(encoded: good.canonicalBytes + [0] + good.signature.rawRepresentation) }
        #expect(throws: ChangeRejection.self) { try PasskeySignature(encoded: Array(good.encoded.dropFirst(3))) }
        var bytes = good.encoded
        bytes[0] = 2
        #expect(throws: ChangeRejection.self) { try PasskeySignature(encoded: bytes) }
    }

    @Test("a software registration reads back its key and credential; a registration without UV, or of a non-ES256 key, is refused")
    func softwareRegistration() throws {
        let authenticator = try SoftwareAuthenticator(origin: "http://localhost:7601")
        let challenge = Array(repeating: UInt8(9), count: 32)
        let (data, client) = authenticator.registration(challenge: challenge)
        let registration = try PasskeyRegistration(
            authenticatorData: data, clientDataJSON: client, challenge: challenge, origin: "http://localhost:7601", relyingParty: "localhost"
        )
        #expect(registration.publicKey == authenticator.key.publicKey && registration.credentialID == authenticator.credentialID)
        var unverified = data
        unverified[32] = 0x41
        #expect(throws: PasskeyRegistration.Refusal.self) {
            try PasskeyRegistration(authenticatorData: unverified, clientDataJSON: client, challenge: challenge, origin: "http://localhost:7601", relyingParty: "localhost")
        }
        var rs256 = data
        let alg = try #require(rs256.firstRange(of: [0x03, 0x26]))
        rs256.replaceSubrange(alg, with: [0x03, 0x39])  // -7 → -26 (not ES256)
        #expect(throws: PasskeyRegistration.Refusal.self) {
            try PasskeyRegistration(authenticatorData: rs256, clientDataJSON: client, challenge: challenge, origin: "http://localhost:7601", relyingParty: "localhost")
        }
    }
}
