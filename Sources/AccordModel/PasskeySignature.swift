public import AccordCrypto

/// An approver's own signature over an approval, made with their passkey (a WebAuthn assertion),
/// and the node's signed statement that the passkey is theirs.
///
/// A node signs every approval it makes, but that proves only that the node approved: its
/// operator could have done so without any person's consent. Where an organisation requires it
/// (`[approvals] require_passkey`), the approver's authenticator signs the approval too — a key
/// the node never holds. The assertion's challenge is SHA-256 of the approval's signed message
/// (`Approval.signedMessage`: the agreement id and the terms hash), so it can be moved to no other
/// agreement or terms. The node states, under its own key, which person registered the passkey
/// and when (`Credential`): partners check both signatures, and `verify.sh` in an evidence bundle
/// does the same with openssl alone (docs/encoding.md, "Passkey signature").
///
/// Kept and sent beside the approval's change like an `Attribution`, from protocol version 4; a
/// node of an older version receives the approval and its attribution without it.
public struct PasskeySignature: Hashable, Sendable {
    public static let formatVersion: UInt8 = 1

    /// A person's passkey as the node that registered it states it.
    public struct Credential: Hashable, Sendable {
        public static let maximumIDBytes = 1023
        public static let maximumNameBytes = 255

        /// The authenticator's credential id.
        public let id: [UInt8]
        /// The P-256 public key, as DER SubjectPublicKeyInfo (what `openssl pkey -pubin` reads).
        public let publicKey: P256PublicKey
        /// The WebAuthn relying party id (the console's host name) and the console's origin.
        public let relyingParty: String
        public let origin: String
        /// When the person registered it, in Unix milliseconds.
        public let registeredAt: UInt64

        public init(id: [UInt8], publicKey: P256PublicKey, relyingParty: String, origin: String, registeredAt: UInt64) throws(ChangeRejection) {
            guard (1...Self.maximumIDBytes).contains(id.count) else {
                throw ChangeRejection(.malformed, "a credential id is 1–\(Self.maximumIDBytes) bytes")
            }
            for text in [relyingParty, origin] where text.isEmpty || text.utf8.count > Self.maximumNameBytes || text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x22 || $0 == 0x5C || $0 >= 0x7F }) {
                throw ChangeRejection(.malformed, "a relying party id or origin is 1–\(Self.maximumNameBytes) printable ASCII bytes with no quote or backslash")
            }
            self.id = id
            self.publicKey = publicKey
            self.relyingParty = relyingParty
            self.origin = origin
            self.registeredAt = registeredAt
        }
    }

    /// What the authenticator returned: it signed `authenticatorData || SHA-256(clientDataJSON)`.
    public struct Assertion: Hashable, Sendable {
        public static let maximumAuthenticatorDataBytes = 1024
        public static let maximumClientDataBytes = 2048
        public static let maximumSignatureBytes = 80

        public let authenticatorData: [UInt8]
        public let clientDataJSON: [UInt8]
        /// DER `Ecdsa-Sig-Value`, as the authenticator wrote it.
        public let signature: [UInt8]

        public init(authenticatorData: [UInt8], clientDataJSON: [UInt8], signature: [UInt8]) throws(ChangeRejection) {
            guard (37...Self.maximumAuthenticatorDataBytes).contains(authenticatorData.count),
                (1...Self.maximumClientDataBytes).contains(clientDataJSON.count),
                (8...Self.maximumSignatureBytes).contains(signature.count)
            else {
                throw ChangeRejection(.malformed, "an assertion's authenticator data, client data or signature is out of bounds")
            }
            self.authenticatorData = authenticatorData
            self.clientDataJSON = clientDataJSON
            self.signature = signature
        }

        /// Why the assertion does not sign `challenge` for `credential`, or nil if it does: the
        /// checks of WebAuthn §7.2 that the signed bytes can show, with the limited verification
        /// of the client data (§5.8.1.2: an exact prefix), which `verify.sh` repeats.
        public func problem(challenge: [UInt8], credential: Credential) -> String? {
            let prefix = #"{"type":"webauthn.get","challenge":""# + Base64URL.encode(challenge) + #"","origin":""# + credential.origin
                + #"","crossOrigin":false"#
            let expected = Array(prefix.utf8)
            guard clientDataJSON.count > expected.count, clientDataJSON.starts(with: expected),
                [UInt8(ascii: ","), UInt8(ascii: "}")].contains(clientDataJSON[expected.count])
            else {
                return "the client data is not a webauthn.get of this approval's challenge from \(credential.origin)"
            }
            guard authenticatorData.prefix(32).elementsEqual(SHA256Digest(hashing: Array(credential.relyingParty.utf8)).bytes) else {
                return "the authenticator data is for another relying party than \(credential.relyingParty)"
            }
            let flags = authenticatorData[32]
            guard flags & 0x01 != 0, flags & 0x04 != 0 else { return "the authenticator did not verify the person (flags UP and UV)" }
            let signed = authenticatorData + SHA256Digest(hashing: clientDataJSON).bytes
            guard credential.publicKey.isValidSignature(der: signature, for: signed) else { return "the passkey's signature does not verify" }
            return nil
        }
    }

    /// The approval change this signs.
    public let change: ChangeID
    /// The id of the person (`ActingPerson.id`) whose passkey it is.
    public let person: String
    public let credential: Credential
    public let assertion: Assertion
    /// The node's signature over `signedMessage(canonicalBytes)`.
    public let signature: P256Signature

    /// What the passkey signs for an approval of `termsHash` on `agreement`.
    public static func challenge(agreement: AgreementID, termsHash: SHA256Digest) -> [UInt8] {
        SHA256Digest(hashing: Approval.signedMessage(agreement: agreement, termsHash: termsHash)).bytes
    }

    public var canonicalBytes: [UInt8] { Self.canonicalBytes(change: change, person: person, credential: credential, assertion: assertion) }

    /// Canonical bytes then the node's 64-byte signature, as it travels and rests.
    public var encoded: [UInt8] { canonicalBytes + signature.rawRepresentation }

    public static let maximumEncodedBytes = 1 + 32 + 4 + ActingPerson.maximumIDBytes + 4 + Credential.maximumIDBytes + 4 + 91
        + 2 * (4 + Credential.maximumNameBytes) + 8 + 3 * 4 + Assertion.maximumAuthenticatorDataBytes + Assertion.maximumClientDataBytes
        + Assertion.maximumSignatureBytes + 64

    /// A domain tag, so this signature can never be taken for a change's, approval's or
    /// attribution's made with the same node key.
    public static func signedMessage(_ canonicalBytes: [UInt8]) -> [UInt8] { Array("accord/passkey-signature/v1\n".utf8) + canonicalBytes }

    static func canonicalBytes(change: ChangeID, person: String, credential: Credential, assertion: Assertion) -> [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 512)
        writer.write(formatVersion)
        writer.writeFixed(change.bytes)
        writer.write(person)
        writer.writeBytes(credential.id)
        writer.writeBytes(credential.publicKey.subjectPublicKeyInfo)
        writer.write(credential.relyingParty)
        writer.write(credential.origin)
        writer.write(credential.registeredAt)
        writer.writeBytes(assertion.authenticatorData)
        writer.writeBytes(assertion.clientDataJSON)
        writer.writeBytes(assertion.signature)
        return writer.bytes
    }

    init(change: ChangeID, person: String, credential: Credential, assertion: Assertion, signature: P256Signature) {
        self.change = change
        self.person = person
        self.credential = credential
        self.assertion = assertion
        self.signature = signature
    }

    /// Decodes a passkey signature (neither signature is checked here: `problem(for:by:)`).
    public init(encoded bytes: [UInt8]) throws(ChangeRejection) {
        guard bytes.count > P256Signature.byteCount, bytes.count <= Self.maximumEncodedBytes else {
            throw ChangeRejection(.malformed, "a passkey signature of \(bytes.count) bytes is out of bounds")
        }
        let split = bytes.count - P256Signature.byteCount
        do {
            var reader = CanonicalReader(Array(bytes[..<split]))
            let version = try reader.readUInt8("passkey.version")
            guard version == Self.formatVersion else {
                throw DecodingError("passkey.version", at: 0, "format \(version) is not supported (this node reads \(Self.formatVersion))")
            }
            change = SHA256Digest(bytes: Array(try reader.readFixed(32, "passkey.change")))!
            person = try reader.readText("passkey.person", maximumBytes: ActingPerson.maximumIDBytes)
            let id = try reader.readBytes("passkey.credential", maximumBytes: Credential.maximumIDBytes)
            let key = try reader.readBytes("passkey.publicKey", maximumBytes: 91)
            let relyingParty = try reader.readText("passkey.relyingParty", maximumBytes: Credential.maximumNameBytes)
            let origin = try reader.readText("passkey.origin", maximumBytes: Credential.maximumNameBytes)
            let registeredAt = try reader.readUInt64("passkey.registeredAt")
            let authenticatorData = try reader.readBytes("passkey.authenticatorData", maximumBytes: Assertion.maximumAuthenticatorDataBytes)
            let clientData = try reader.readBytes("passkey.clientDataJSON", maximumBytes: Assertion.maximumClientDataBytes)
            let assertionSignature = try reader.readBytes("passkey.signature", maximumBytes: Assertion.maximumSignatureBytes)
            try reader.expectEnd("passkey")
            guard let publicKey = try? P256PublicKey(subjectPublicKeyInfo: key) else {
                throw ChangeRejection(.malformed, "a passkey signature's public key is not a P-256 SubjectPublicKeyInfo")
            }
            credential = try Credential(id: id, publicKey: publicKey, relyingParty: relyingParty, origin: origin, registeredAt: registeredAt)
            assertion = try Assertion(authenticatorData: authenticatorData, clientDataJSON: clientData, signature: assertionSignature)
        } catch let error as DecodingError {
            throw ChangeRejection(.malformed, "passkey signature: \(error)")
        } catch let error as ChangeRejection {
            throw error
        } catch {
            throw ChangeRejection(.malformed, "passkey signature: \(error)")
        }
        guard let signature = try? P256Signature(rawRepresentation: Array(bytes[split...])) else {
            throw ChangeRejection(.malformed, "the passkey signature's trailing node signature is not 64 bytes")
        }
        self.signature = signature
        guard canonicalBytes == Array(bytes[..<split]) else {
            throw ChangeRejection(.malformed, "the bytes are not the canonical encoding of the passkey signature they describe")
        }
    }

    /// Why this does not prove that the person's passkey signed the approval in `change`, or
    /// nil if it does: the change's author signed this statement, and `assertionProblem`.
    public func problem(for change: VerifiedChange, by directory: any AuthorDirectory) -> String? {
        guard change.id == self.change else { return "it names another change" }
        let message = Self.signedMessage(canonicalBytes)
        guard directory.keys(of: change.change.author).contains(where: { $0.publicKey.isValidSignature(signature, for: message) }) else {
            return "the change's author did not sign it"
        }
        return assertionProblem(for: change)
    }

    /// Why the assertion does not sign the approval in `change`, or nil if it does: the change
    /// holds exactly one approval, and the assertion signs that approval's challenge.
    public func assertionProblem(for change: VerifiedChange) -> String? {
        let approvals = change.change.edits.compactMap { edit -> SHA256Digest? in
            if case .approve(_, let termsHash, _) = edit { termsHash } else { nil }
        }
        guard approvals.count == 1, let termsHash = approvals.first else { return "its change does not hold exactly one approval" }
        return assertion.problem(challenge: Self.challenge(agreement: change.change.agreement, termsHash: termsHash), credential: credential)
    }
}

extension ChangeSigner {
    /// The node's statement that `person`'s passkey `credential` made `assertion` over the
    /// approval in `change`, which this node authored.
    public func passkeySignature(
        of change: VerifiedChange, person: String, credential: PasskeySignature.Credential, assertion: PasskeySignature.Assertion
    ) throws(CryptoError) -> PasskeySignature {
        precondition(change.change.author == node, "\(node) cannot sign for a change authored by \(change.change.author)")
        let bytes = PasskeySignature.canonicalBytes(change: change.id, person: person, credential: credential, assertion: assertion)
        return PasskeySignature(
            change: change.id, person: person, credential: credential, assertion: assertion,
            signature: try key.signature(for: PasskeySignature.signedMessage(bytes))
        )
    }
}
