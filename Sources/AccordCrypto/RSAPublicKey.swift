internal import COpenSSL
import COpenSSLShim

/// An RSA public key, for one purpose only: checking the RS256 signatures (RSASSA-PKCS1-v1_5 with
/// SHA-256) of an identity provider's ID tokens. Accord itself never signs with RSA.
///
/// Built from a JSON Web Key's modulus and exponent by writing the DER SubjectPublicKeyInfo they
/// stand for and reading it with `d2i_PUBKEY`, the path certificates' keys take, so no other
/// OpenSSL interface is involved. Keys under 2048 bits are refused (RFC 7518 §3.3).
public struct RSAPublicKey: Sendable {
    public static let minimumBits = 2048

    private let key: EVPKey
    /// The modulus's length in bits.
    public let bits: Int

    /// - Parameters:
    ///   - modulus: `n`, big-endian, as a JWK's `n` decodes.
    ///   - exponent: `e`, big-endian.
    public init(modulus: [UInt8], exponent: [UInt8]) throws(CryptoError) {
        let modulus = Array(modulus.drop { $0 == 0 }), exponent = Array(exponent.drop { $0 == 0 })
        guard !modulus.isEmpty, !exponent.isEmpty, exponent.count <= 8 else {
            throw CryptoError(.invalidKey, "the RSA key's modulus or exponent is empty or out of range")
        }
        let rsaEncryption: [UInt8] = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]
        let publicKey = DER.sequence(DER.unsignedInteger(modulus) + DER.unsignedInteger(exponent))
        let info = DER.sequence(DER.sequence(rsaEncryption) + DER.bitString(publicKey))
        let pointer = try readDER(info, .invalidKey, "the RSA modulus and exponent do not make a public key") { d2i_PUBKEY(nil, $0, $1) }
        key = try EVPKey(takingRSA: pointer)
        bits = Int(EVP_PKEY_get_bits(key.pointer))
        guard bits >= Self.minimumBits else {
            throw CryptoError(.unsupportedKey, "the RSA key has \(bits) bits; at least \(Self.minimumBits) are required")
        }
    }

    /// Whether `signature` is an RSASSA-PKCS1-v1_5 signature with SHA-256 over `message` by this
    /// key. Never throws: a hostile token can make it false, nothing else.
    public func isValidPKCS1SHA256Signature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        // PKCS#1 v1.5 is the default padding of an RSA verification.
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key.pointer) == 1 else { return false }
        return EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
    }
}

/// The few DER encodings a SubjectPublicKeyInfo needs.
enum DER {
    static func length(_ count: Int) -> [UInt8] {
        guard count >= 0x80 else { return [UInt8(count)] }
        var bytes: [UInt8] = []
        var rest = count
        while rest > 0 {
            bytes.insert(UInt8(rest & 0xff), at: 0)
            rest >>= 8
        }
        return [0x80 | UInt8(bytes.count)] + bytes
    }

    static func sequence(_ content: [UInt8]) -> [UInt8] { [0x30] + length(content.count) + content }

    /// A non-negative INTEGER from big-endian bytes without leading zeros.
    static func unsignedInteger(_ magnitude: [UInt8]) -> [UInt8] {
        let content = (magnitude.first ?? 0) & 0x80 != 0 ? [0] + magnitude : magnitude
        return [0x02] + length(content.count) + content
    }

    static func bitString(_ content: [UInt8]) -> [UInt8] { [0x03] + length(content.count + 1) + [0] + content }
}
