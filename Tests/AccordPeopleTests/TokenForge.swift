import AccordCrypto
import AccordPeople
import AccordTestSupport
import Foundation

/// Makes ID tokens the way a provider would, and the ways an attacker would: RS256 with an RSA
/// key from `openssl genpkey` (signed by `openssl dgst`), ES256 with a P-256 key, HS256 keyed
/// with the provider's public key, `alg: none`.
struct TokenForge {
    let folder: String
    let rsaKeyPath: String
    /// The RSA key's JWK fields.
    let modulus: [UInt8]
    let p256 = try! P256PrivateKey.generate()

    static let issuer = "http://localhost:9400"
    static let client = "accord-console"

    static func make() async throws -> TokenForge {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("accord-forge-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let key = "\(folder)/rsa.pem"
        let generated = try await Subprocess.run("/usr/bin/openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key])
        guard generated.succeeded else { throw ForgeFailure(generated.stderr) }
        let modulus = try await Subprocess.run("/usr/bin/openssl", ["rsa", "-in", key, "-noout", "-modulus"])
        guard modulus.succeeded, let hex = modulus.stdout.split(separator: "=").last?.trimmingCharacters(in: .whitespacesAndNewlines) else {
            throw ForgeFailure(modulus.stderr)
        }
        return TokenForge(folder: folder, rsaKeyPath: key, modulus: HexEncoding.decode(hex)!)
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }

    var rsaJWK: [String: String] { ["kty": "RSA", "n": Base64URL.encode(modulus), "e": "AQAB", "kid": "rsa-1", "use": "sig"] }

    var p256JWK: [String: String] {
        let point = p256.publicKey.subjectPublicKeyInfo.suffix(64)
        return ["kty": "EC", "crv": "P-256", "x": Base64URL.encode(point.prefix(32)), "y": Base64URL.encode(point.suffix(32)), "kid": "ec-1"]
    }

    func keySet(_ keys: [[String: String]]) throws -> JSONWebKeySet {
        try JSONWebKeySet(json: Array(try JSONSerialization.data(withJSONObject: ["keys": keys])))
    }

    /// Claims a valid token for `nonce` carries, issued at `now`.
    static func claims(nonce: String = "n-1", now: Date = Date(), lifetime: TimeInterval = 300) -> [String: Any] {
        [
            "iss": issuer, "aud": [client], "sub": "alice", "nonce": nonce, "name": "Alice Chen", "email": "alice@acme.example",
            "groups": ["accord-approvers"], "iat": Int(now.timeIntervalSince1970), "exp": Int(now.timeIntervalSince1970 + lifetime),
        ]
    }

    enum Signer { case rs256, es256, hs256(key: [UInt8]), none }

    /// A compact JWS of `claims`, signed by `signer`, with `header` fields added.
    func token(_ claims: [String: Any], _ signer: Signer = .rs256, kid: String? = "rsa-1") async throws -> String {
        var header: [String: Any] = ["typ": "JWT"]
        switch signer {
        case .rs256: header["alg"] = "RS256"
        case .es256: header["alg"] = "ES256"
        case .hs256: header["alg"] = "HS256"
        case .none: header["alg"] = "none"
        }
        if let kid { header["kid"] = kid }
        let input = Base64URL.encode(try JSONSerialization.data(withJSONObject: header, options: .sortedKeys)) + "."
            + Base64URL.encode(try JSONSerialization.data(withJSONObject: claims, options: .sortedKeys))
        let signature: [UInt8]
        switch signer {
        case .rs256:
            let path = "\(folder)/input-\(UUID())"
            try Data(input.utf8).write(to: URL(fileURLWithPath: path))
            let signed = try await Subprocess.run("/usr/bin/openssl", ["dgst", "-sha256", "-sign", rsaKeyPath, "-out", "\(path).sig", path])
            guard signed.succeeded else { throw ForgeFailure(signed.stderr) }
            signature = Array(try Data(contentsOf: URL(fileURLWithPath: "\(path).sig")))
        case .es256:
            signature = try p256.signature(for: Array(input.utf8)).rawRepresentation
        case .hs256(let key):
            let path = "\(folder)/input-\(UUID())"
            try Data(input.utf8).write(to: URL(fileURLWithPath: path))
            let signed = try await Subprocess.run(
                "/usr/bin/openssl", ["dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:\(HexEncoding.encode(key))", "-binary", "-out", "\(path).sig", path]
            )
            guard signed.succeeded else { throw ForgeFailure(signed.stderr) }
            signature = Array(try Data(contentsOf: URL(fileURLWithPath: "\(path).sig")))
        case .none:
            signature = []
        }
        return input + "." + Base64URL.encode(signature)
    }
}

struct ForgeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
