import AccordCrypto
public import Foundation

/// The JWS algorithms Accord accepts for ID tokens: asymmetric only. `none` and the HMAC family
/// are refused by name — an HS256 token "signed" with the provider's public key is the classic
/// confusion attack — and so is anything else.
public enum JWSAlgorithm: String, Sendable, CaseIterable {
    case rs256 = "RS256"
    case es256 = "ES256"
}

/// An ID token's claims that Accord reads, once its signature and rules are checked.
public struct IDTokenClaims: Sendable, Equatable {
    public let issuer: String
    public let subject: String
    public let audience: [String]
    public let expires: Date
    public let nonce: String?
    public let name: String?
    public let email: String?
    /// The values of the configured groups claim (a list of strings, or one string).
    public let groups: [String]
}

/// Why an ID token was refused: a stable reason for logs and counts, and what was wrong.
public struct IDTokenRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: String, Sendable {
        case malformed = "malformed-token"
        case algorithm = "algorithm-not-allowed"
        case unknownKey = "unknown-key"
        case signature = "bad-signature"
        case issuer = "wrong-issuer"
        case audience = "wrong-audience"
        case expired = "token-expired"
        case notYetValid = "token-not-yet-valid"
        case nonce = "nonce-mismatch"
    }

    public let reason: Reason
    public let message: String

    init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}

/// Checks an ID token the way OpenID Connect Core §3.1.3.7 asks: the signature against the
/// provider's keys with an allowed algorithm, then `iss`, `aud` (and `azp` when there are
/// several audiences), `exp` and `nbf` with `leeway` for clock skew, and the `nonce` this login
/// sent. A pure function of its inputs; the time is passed in.
public struct IDTokenVerifier: Sendable {
    public let issuer: String
    public let clientID: String
    public let groupsClaim: String
    /// Clock skew tolerated on `exp` and `nbf`.
    public let leeway: Duration

    /// Tokens longer than this are refused before they are parsed.
    public static let maximumLength = 16 * 1024

    public init(issuer: String, clientID: String, groupsClaim: String = "groups", leeway: Duration = .seconds(60)) {
        self.issuer = issuer
        self.clientID = clientID
        self.groupsClaim = groupsClaim
        self.leeway = leeway
    }

    /// The claims of `token` if it passes every check.
    /// - Throws: `IDTokenRejection` naming the first check it fails; `.unknownKey` means the
    ///   provider's keys may have rotated (the caller fetches them again, once).
    public func verify(_ token: String, keys: JSONWebKeySet, nonce: String, now: Date) throws(IDTokenRejection) -> IDTokenClaims {
        guard token.utf8.count <= Self.maximumLength else { throw IDTokenRejection(.malformed, "the token is longer than \(Self.maximumLength) bytes") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2])
        else { throw IDTokenRejection(.malformed, "the token is not three base64url parts (a compact JWS)") }
        guard let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any] else {
            throw IDTokenRejection(.malformed, "the token's header is not a JSON object")
        }
        let named = header["alg"] as? String ?? "(none)"
        guard let algorithm = JWSAlgorithm(rawValue: named) else {
            throw IDTokenRejection(.algorithm, "the token is signed with \(named); Accord accepts \(JWSAlgorithm.allCases.map(\.rawValue).joined(separator: ", ")) only")
        }
        if let critical = header["crit"] { throw IDTokenRejection(.malformed, "the token's header names critical extensions \(critical)") }
        let keyID = header["kid"] as? String
        let candidates = keys.candidates(for: algorithm, id: keyID)
        guard !candidates.isEmpty else {
            throw IDTokenRejection(.unknownKey, "the provider's keys hold no \(algorithm.rawValue) key" + (keyID.map { " with id \"\($0)\"" } ?? ""))
        }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard candidates.contains(where: { Self.isValid(signature, of: signingInput, by: $0) }) else {
            // Without a key id, a rotated key looks like a bad signature: worth one fetch too.
            throw IDTokenRejection(keyID == nil ? .unknownKey : .signature, "the token's signature does not verify with the provider's \(algorithm.rawValue) keys")
        }
        guard let payload = try? JSONSerialization.jsonObject(with: Data(payloadBytes)) as? [String: Any] else {
            throw IDTokenRejection(.malformed, "the token's payload is not a JSON object")
        }
        return try claims(payload, nonce: nonce, now: now)
    }

    private func claims(_ payload: [String: Any], nonce: String, now: Date) throws(IDTokenRejection) -> IDTokenClaims {
        let issued = payload["iss"] as? String ?? "(none)"
        guard issued == issuer else { throw IDTokenRejection(.issuer, "the token was issued by \(issued), not \(issuer)") }
        let audience = (payload["aud"] as? [String]) ?? (payload["aud"] as? String).map { [$0] } ?? []
        guard audience.contains(clientID) else {
            throw IDTokenRejection(.audience, "the token is for \(audience.isEmpty ? "no audience" : audience.joined(separator: ", ")), not \(clientID)")
        }
        if audience.count > 1, let party = payload["azp"] as? String, party != clientID {
            throw IDTokenRejection(.audience, "the token was issued to \(party) (azp), not \(clientID)")
        }
        let leeway = Double(leeway.components.seconds)
        guard let expiry = (payload["exp"] as? NSNumber)?.doubleValue else { throw IDTokenRejection(.malformed, "the token has no exp") }
        guard now.timeIntervalSince1970 < expiry + leeway else {
            throw IDTokenRejection(.expired, "the token expired at \(Date(timeIntervalSince1970: expiry)) (leeway \(Int(leeway)) s)")
        }
        if let notBefore = (payload["nbf"] as? NSNumber)?.doubleValue, now.timeIntervalSince1970 + leeway < notBefore {
            throw IDTokenRejection(.notYetValid, "the token is valid from \(Date(timeIntervalSince1970: notBefore)) (leeway \(Int(leeway)) s)")
        }
        guard let sent = payload["nonce"] as? String, constantTimeEqual(sent, nonce) else {
            throw IDTokenRejection(.nonce, "the token's nonce is not the one this sign-in sent")
        }
        guard let subject = payload["sub"] as? String, !subject.isEmpty, subject.utf8.count <= 255 else {
            throw IDTokenRejection(.malformed, "the token has no subject (sub) of at most 255 bytes")
        }
        let groups = (payload[groupsClaim] as? [Any])?.compactMap { $0 as? String } ?? (payload[groupsClaim] as? String).map { [$0] } ?? []
        return IDTokenClaims(
            issuer: issued, subject: subject, audience: audience, expires: Date(timeIntervalSince1970: expiry), nonce: sent,
            name: payload["name"] as? String, email: payload["email"] as? String, groups: groups
        )
    }

    private static func isValid(_ signature: [UInt8], of input: [UInt8], by key: JSONWebKeySet.Key) -> Bool {
        switch key {
        case .rsa(let key):
            return key.isValidPKCS1SHA256Signature(signature, for: input)
        case .p256(let key):
            // JWS carries ECDSA signatures as r ‖ s, 32 bytes each (RFC 7518 §3.4).
            guard signature.count == P256Signature.byteCount, let signature = try? P256Signature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(signature, for: input)
        }
    }
}

/// Compares two secrets in time that does not depend on where they differ.
public func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
    let (a, b) = (Array(lhs.utf8), Array(rhs.utf8))
    guard a.count == b.count else { return false }
    return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
}
