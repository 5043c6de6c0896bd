public import AccordCrypto
import Foundation

/// The keys an identity provider signs ID tokens with, read from its JWKS document (RFC 7517).
///
/// Only keys that can check an allowed algorithm are kept — RSA keys of at least 2048 bits for
/// RS256, P-256 keys for ES256 — and only those meant for signatures (`use` absent or `sig`);
/// every other key is skipped, so one odd key in a provider's set does not lock sign-in out.
public struct JSONWebKeySet: Sendable {
    public enum Key: Sendable {
        case rsa(RSAPublicKey)
        case p256(P256PublicKey)

        var algorithm: JWSAlgorithm {
            switch self {
            case .rsa: .rs256
            case .p256: .es256
            }
        }
    }

    public struct Entry: Sendable {
        /// The key's `kid`, if it has one (a provider with a single key may give none).
        public let id: String?
        public let key: Key
    }

    public let keys: [Entry]
    /// Keys the set holds that are not kept, each with why: for the log.
    public let skipped: [String]

    /// Reads a JWKS document.
    /// - Throws: `IdentityProviderError` if it is not a JSON object with a `keys` array.
    public init(json: [UInt8]) throws(IdentityProviderError) {
        guard let document = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
            let keys = document["keys"] as? [[String: Any]]
        else { throw IdentityProviderError("the JWKS document is not a JSON object with a \"keys\" array") }
        var entries: [Entry] = []
        var skipped: [String] = []
        for (index, key) in keys.enumerated() {
            let id = key["kid"] as? String
            let name = id.map { "key \"\($0)\"" } ?? "key #\(index + 1)"
            do {
                entries.append(Entry(id: id, key: try Self.key(key)))
            } catch {
                skipped.append("\(name): \(error.message)")
            }
        }
        self.keys = entries
        self.skipped = skipped
    }

    public init(keys: [Entry]) {
        self.keys = keys
        skipped = []
    }

    /// The keys that may have made a signature with `algorithm` and key id `id`: the one with
    /// that id, or with none named in the token, every key of the algorithm's type.
    func candidates(for algorithm: JWSAlgorithm, id: String?) -> [Key] {
        keys.filter { $0.key.algorithm == algorithm && (id == nil || $0.id == id) }.map(\.key)
    }

    func contains(id: String) -> Bool { keys.contains { $0.id == id } }

    private static func key(_ jwk: [String: Any]) throws(IdentityProviderError) -> Key {
        if let use = jwk["use"] as? String, use != "sig" { throw IdentityProviderError("its use is \"\(use)\", not \"sig\"") }
        func bytes(_ field: String) throws(IdentityProviderError) -> [UInt8] {
            guard let text = jwk[field] as? String, let bytes = Base64URL.decode(text) else {
                throw IdentityProviderError("it has no base64url \"\(field)\"")
            }
            return bytes
        }
        let algorithm = jwk["alg"] as? String
        do {
            switch jwk["kty"] as? String {
            case "RSA":
                guard algorithm == nil || algorithm == JWSAlgorithm.rs256.rawValue else {
                    throw IdentityProviderError("its algorithm \(algorithm ?? "") is not one Accord accepts (RS256, ES256)")
                }
                return .rsa(try RSAPublicKey(modulus: try bytes("n"), exponent: try bytes("e")))
            case "EC":
                guard jwk["crv"] as? String == "P-256", algorithm == nil || algorithm == JWSAlgorithm.es256.rawValue else {
                    throw IdentityProviderError("it is not a P-256 key for ES256")
                }
                let (x, y) = (try bytes("x"), try bytes("y"))
                guard x.count == 32, y.count == 32 else { throw IdentityProviderError("its coordinates are not 32 bytes each") }
                // The fixed SubjectPublicKeyInfo prefix of an uncompressed P-256 point.
                let prefix: [UInt8] = [
                    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
                    0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
                ]
                return .p256(try P256PublicKey(subjectPublicKeyInfo: prefix + x + y))
            case let type:
                throw IdentityProviderError("its key type \(type ?? "(none)") is not one Accord accepts (RSA, EC)")
            }
        } catch let error as IdentityProviderError {
            throw error
        } catch let error as CryptoError {
            throw IdentityProviderError(error.message)
        } catch {
            throw IdentityProviderError("\(error)")
        }
    }
}

/// Something an identity provider sent that Accord cannot use, with what is wrong.
public struct IdentityProviderError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
