public import AccordCrypto

/// A passkey a signed-in person registers, read from what the browser's
/// `navigator.credentials.create()` returned (WebAuthn §7.1), with no attestation: the console
/// asks for none, because what makes the key the person's is that they registered it in their
/// own signed-in session, which the node then states under its key (`PasskeySignature`).
///
/// Only ES256 (COSE algorithm -7, P-256) keys: the one algorithm every platform authenticator
/// offers and the one `openssl` verifies in an evidence bundle without more.
public struct PasskeyRegistration: Sendable {
    public let credentialID: [UInt8]
    public let publicKey: P256PublicKey
    public let signCount: UInt32

    /// Why a registration is refused; the message names the check.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// Reads and checks a registration made for `challenge` at `origin` for the relying party
    /// `relyingParty`.
    /// - Parameters:
    ///   - authenticatorData: `AuthenticatorAttestationResponse.getAuthenticatorData()`.
    ///   - clientDataJSON: the response's `clientDataJSON`, as the browser wrote it.
    public init(
        authenticatorData: [UInt8], clientDataJSON: [UInt8], challenge: [UInt8], origin: String, relyingParty: String
    ) throws(Refusal) {
        let expected = Array((#"{"type":"webauthn.create","challenge":""# + Base64URL.encode(challenge) + #"","origin":""# + origin + #"","crossOrigin":false"#).utf8)
        guard clientDataJSON.count > expected.count, clientDataJSON.count <= 2048, clientDataJSON.starts(with: expected),
            [UInt8(ascii: ","), UInt8(ascii: "}")].contains(clientDataJSON[expected.count])
        else {
            throw Refusal("the client data is not a webauthn.create of this registration's challenge from \(origin)")
        }
        guard authenticatorData.count >= 55, authenticatorData.count <= 2048 else { throw Refusal("the authenticator data is too short or too long") }
        guard authenticatorData.prefix(32).elementsEqual(SHA256Digest(hashing: Array(relyingParty.utf8)).bytes) else {
            throw Refusal("the authenticator data is for another relying party than \(relyingParty)")
        }
        let flags = authenticatorData[32]
        guard flags & 0x01 != 0, flags & 0x04 != 0 else { throw Refusal("the authenticator did not verify the person (flags UP and UV)") }
        guard flags & 0x40 != 0 else { throw Refusal("the authenticator data holds no credential (flag AT)") }
        signCount = authenticatorData[33..<37].reduce(0) { $0 << 8 | UInt32($1) }
        // AAGUID (16 bytes), the credential id's length (2), the id, then the COSE key.
        let length = Int(authenticatorData[53]) << 8 | Int(authenticatorData[54])
        guard (1...1023).contains(length), authenticatorData.count > 55 + length else { throw Refusal("the credential id's length is out of bounds") }
        credentialID = Array(authenticatorData[55..<(55 + length)])
        var cbor = CBORReader(authenticatorData[(55 + length)...])
        let key: [Int: CBORReader.Value]
        do {
            key = try cbor.readIntegerKeyedMap()
        } catch {
            throw Refusal("the credential's public key is not a COSE key: \(error.description)")
        }
        // COSE (RFC 9053): kty 2 (EC2), alg -7 (ES256), crv 1 (P-256), x and y of 32 bytes.
        guard key[1] == .integer(2), key[3] == .integer(-7), key[-1] == .integer(1),
            case .bytes(let x) = key[-2], case .bytes(let y) = key[-3], x.count == 32, y.count == 32
        else {
            throw Refusal("the passkey is not an ES256 (P-256) key; register one that is (every platform authenticator offers it)")
        }
        do {
            publicKey = try P256PublicKey(subjectPublicKeyInfo: Self.spkiPrefix + [0x04] + x + y)
        } catch {
            throw Refusal("the passkey's public key is not a point on P-256")
        }
    }

    /// The DER SubjectPublicKeyInfo of a P-256 key before its uncompressed point.
    static let spkiPrefix: [UInt8] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
        0x42, 0x00,
    ]
}

/// The little of CBOR (RFC 8949) a COSE key needs: a map with integer keys whose values are
/// integers or byte strings, definite lengths only, every length checked before it is used.
struct CBORReader {
    enum Value: Equatable {
        case integer(Int)
        case bytes([UInt8])
        case text(String)
    }

    struct Malformed: Error { let description: String }

    private let bytes: ArraySlice<UInt8>
    private var offset: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        offset = bytes.startIndex
    }

    mutating func readIntegerKeyedMap() throws(Malformed) -> [Int: Value] {
        let (major, count) = try head()
        guard major == 5, count <= 16 else { throw Malformed(description: "a map of at most 16 entries was expected") }
        var map: [Int: Value] = [:]
        for _ in 0..<count {
            guard case .integer(let key) = try value() else { throw Malformed(description: "a key is not an integer") }
            guard map.updateValue(try value(), forKey: key) == nil else { throw Malformed(description: "the key \(key) repeats") }
        }
        return map
    }

    private mutating func value() throws(Malformed) -> Value {
        let (major, argument) = try head()
        switch major {
        case 0: return .integer(argument)
        case 1: return .integer(-1 - argument)
        case 2, 3:
            guard argument <= 1024, bytes.endIndex - offset >= argument else { throw Malformed(description: "a string is longer than the bytes left") }
            let content = Array(bytes[offset..<(offset + argument)])
            offset += argument
            if major == 2 { return .bytes(content) }
            guard let text = String(validating: content, as: UTF8.self) else { throw Malformed(description: "a text is not UTF-8") }
            return .text(text)
        default: throw Malformed(description: "major type \(major) is not expected in a COSE key")
        }
    }

    /// A data item's major type and argument (RFC 8949 §3); indefinite lengths are refused.
    private mutating func head() throws(Malformed) -> (major: UInt8, argument: Int) {
        guard offset < bytes.endIndex else { throw Malformed(description: "the bytes end early") }
        let initial = bytes[offset]
        offset += 1
        let major = initial >> 5
        let additional = initial & 0x1f
        switch additional {
        case 0..<24: return (major, Int(additional))
        case 24, 25, 26:
            let size = 1 << Int(additional - 24)
            guard bytes.endIndex - offset >= size else { throw Malformed(description: "the bytes end early") }
            let argument = bytes[offset..<(offset + size)].reduce(0) { $0 << 8 | Int($1) }
            offset += size
            return (major, argument)
        default: throw Malformed(description: "an argument of 8 bytes or an indefinite length is not expected in a COSE key")
        }
    }
}
