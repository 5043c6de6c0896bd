public import AccordCrypto
public import AccordModel

/// A passkey in software, for tests without a browser: makes the bytes a WebAuthn authenticator
/// and browser return for a registration and an assertion (WebAuthn §6.1, §5.8.1), signed with
/// its own P-256 key. The browser tests use Chromium's virtual authenticator instead.
public struct SoftwareAuthenticator: Sendable {
    public let key: P256PrivateKey
    public let credentialID: [UInt8]
    public let relyingParty: String
    public let origin: String
    public private(set) var signCount: UInt32 = 0

    public init(relyingParty: String = "localhost", origin: String, credentialID: [UInt8]? = nil) throws {
        key = try P256PrivateKey.generate()
        self.credentialID = credentialID ?? Array(SHA256Digest(hashing: key.publicKey.subjectPublicKeyInfo).bytes.prefix(16))
        self.relyingParty = relyingParty
        self.origin = origin
    }

    public func credential(registeredAt: UInt64) throws -> PasskeySignature.Credential {
        try PasskeySignature.Credential(id: credentialID, publicKey: key.publicKey, relyingParty: relyingParty, origin: origin, registeredAt: registeredAt)
    }

    /// The client data a browser writes for a ceremony of `type` over `challenge`.
    public func clientData(_ type: String, challenge: [UInt8], origin: String? = nil) -> [UInt8] {
        Array(#"{"type":"\#(type)","challenge":"\#(Base64URL.encode(challenge))","origin":"\#(origin ?? self.origin)","crossOrigin":false}"#.utf8)
    }

    /// What `navigator.credentials.create()` returns: authenticator data with the credential
    /// and its COSE ES256 key, and the client data.
    public func registration(challenge: [UInt8]) -> (authenticatorData: [UInt8], clientDataJSON: [UInt8]) {
        let point = key.publicKey.subjectPublicKeyInfo.suffix(64)
        let cose: [UInt8] = [0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20] + point.prefix(32) + [0x22, 0x58, 0x20] + point.suffix(32)
        let attested = [UInt8](repeating: 0, count: 16) + [UInt8(credentialID.count >> 8), UInt8(credentialID.count & 0xff)] + credentialID + cose
        return (header(flags: 0x45, count: 0) + attested, clientData("webauthn.create", challenge: challenge))
    }

    /// What `navigator.credentials.get()` returns for `challenge`; each call counts up.
    /// - Parameter flags: 0x05 is "user present and verified".
    public mutating func assertion(challenge: [UInt8], flags: UInt8 = 0x05, origin: String? = nil) throws -> PasskeySignature.Assertion {
        signCount += 1
        let authenticatorData = header(flags: flags, count: signCount)
        let clientData = clientData("webauthn.get", challenge: challenge, origin: origin)
        let signature = try key.signature(for: authenticatorData + SHA256Digest(hashing: clientData).bytes)
        return try PasskeySignature.Assertion(authenticatorData: authenticatorData, clientDataJSON: clientData, signature: signature.derRepresentation)
    }

    private func header(flags: UInt8, count: UInt32) -> [UInt8] {
        SHA256Digest(hashing: Array(relyingParty.utf8)).bytes + [flags] + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: count >> $0) }
    }
}
