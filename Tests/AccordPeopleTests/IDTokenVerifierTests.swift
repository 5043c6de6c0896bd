import AccordCrypto
import AccordPeople
import Foundation
import Testing

/// Every way an ID token must be refused (OpenID Connect Core §3.1.3.7, and the attacks on JWS),
/// each against a token that passes when only that one thing is right.
@Suite("ID token verification")
struct IDTokenVerifierTests {
    let verifier = IDTokenVerifier(issuer: TokenForge.issuer, clientID: TokenForge.client)

    /// Checks `token` against the forge's RSA and P-256 keys.
    func verify(_ token: String, _ forge: TokenForge, nonce: String = "n-1", now: Date = Date()) throws -> IDTokenClaims {
        try verifier.verify(token, keys: try forge.keySet([forge.rsaJWK, forge.p256JWK]), nonce: nonce, now: now)
    }

    func rejection(_ token: String, _ forge: TokenForge, nonce: String = "n-1", now: Date = Date()) -> IDTokenRejection.Reason? {
        do {
            _ = try verify(token, forge, nonce: nonce, now: now)
            return nil
        } catch let rejection as IDTokenRejection {
            return rejection.reason
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test("a provider's RS256 and ES256 tokens pass and give the person's claims")
    func valid() async throws {
        let forge = try await TokenForge.make()
        defer { forge.remove() }
        let claims = try verify(try await forge.token(TokenForge.claims()), forge)
        #expect(claims.subject == "alice" && claims.name == "Alice Chen" && claims.email == "alice@acme.example")
        #expect(claims.groups == ["accord-approvers"])
        #expect(try verify(try await forge.token(TokenForge.claims(), .es256, kid: "ec-1"), forge).subject == "alice")
        // A provider with a single key may name none (oidc-provider-mock does): every key of the type is tried.
        #expect(try verify(try await forge.token(TokenForge.claims(), kid: nil), forge).subject == "alice")
        // `aud` as a string, and a groups claim of one string.
        var single = TokenForge.claims()
        single["aud"] = TokenForge.client
        single["groups"] = "accord-admins"
        #expect(try verify(try await forge.token(single), forge).groups == ["accord-admins"])
    }

    @Test("wrong issuer, wrong audience, another authorised party, expired, not yet valid, another nonce: each refused by name")
    func claimRules() async throws {
        let forge = try await TokenForge.make()
        defer { forge.remove() }
        func with(_ change: (inout [String: Any]) -> Void) async throws -> String {
            var claims = TokenForge.claims()
            change(&claims)
            return try await forge.token(claims)
        }
        #expect(rejection(try await with { $0["iss"] = "http://127.0.0.1:9400" }, forge) == .issuer)
        #expect(rejection(try await with { $0["aud"] = ["another-client"] }, forge) == .audience)
        #expect(rejection(try await with { $0["aud"] = [TokenForge.client, "another"]; $0["azp"] = "another" }, forge) == .audience)
        let now = Date()
        let expired = try await with { $0["exp"] = Int(now.timeIntervalSince1970) - 61 }
        #expect(rejection(expired, forge, now: now) == .expired)
        // Within the stated leeway (60 s), a token just expired by the node's clock still passes.
        let justExpired = try await with { $0["exp"] = Int(now.timeIntervalSince1970) - 30 }
        #expect(rejection(justExpired, forge, now: now) == nil)
        #expect(rejection(try await with { $0["nbf"] = Int(now.timeIntervalSince1970) + 120 }, forge, now: now) == .notYetValid)
        #expect(rejection(try await forge.token(TokenForge.claims()), forge, nonce: "n-2") == .nonce)
        #expect(rejection(try await with { $0["nonce"] = nil }, forge) == .nonce)
        #expect(rejection(try await with { $0["sub"] = nil }, forge) == .malformed)
    }

    @Test("alg none, HS256 keyed with the provider's public key, an unknown kid, a bad signature, garbage: each refused by name")
    func signatureAttacks() async throws {
        let forge = try await TokenForge.make()
        defer { forge.remove() }
        let claims = TokenForge.claims()
        #expect(rejection(try await forge.token(claims, .none), forge) == .algorithm)
        // The classic confusion: HMAC "signed" with the bytes of the provider's public key.
        let publicKey = Array(forge.rsaJWK["n"]!.utf8)
        #expect(rejection(try await forge.token(claims, .hs256(key: publicKey)), forge) == .algorithm)
        #expect(rejection(try await forge.token(claims, kid: "rotated-away"), forge) == .unknownKey)
        // ES256 over the same claims, presented as the RSA key's RS256.
        let es = try await forge.token(claims, .es256, kid: "ec-1").split(separator: ".")
        let rs = try await forge.token(claims).split(separator: ".")
        #expect(rejection("\(rs[0]).\(rs[1]).\(es[2])", forge) == .signature)
        // The claims changed after signing.
        var other = claims
        other["sub"] = "mallory"
        let tampered = try await forge.token(other).split(separator: ".")
        #expect(rejection("\(rs[0]).\(tampered[1]).\(rs[2])", forge) == .signature)
        for garbage in ["", "a.b", "a.b.c.d", "!!.??.**", String(repeating: "a", count: IDTokenVerifier.maximumLength + 1)] {
            #expect(rejection(garbage, forge) == .malformed, "\(garbage.prefix(20))")
        }
    }

    @Test("a key set keeps RSA keys of 2048 bits and more and P-256 keys for signing; others are skipped with why")
    func keySet() async throws {
        let forge = try await TokenForge.make()
        defer { forge.remove() }
        var encryption = forge.rsaJWK
        encryption["use"] = "enc"
        var short = forge.rsaJWK
        short["n"] = Base64URL.encode(forge.modulus.prefix(128))
        let set = try forge.keySet([forge.rsaJWK, encryption, short, ["kty": "oct", "k": "c2VjcmV0"], forge.p256JWK])
        #expect(set.keys.map(\.id) == ["rsa-1", "ec-1"])
        #expect(set.skipped.count == 3)
        #expect(set.skipped.contains { $0.contains("1024 bits") }, "\(set.skipped)")
        #expect(throws: IdentityProviderError.self) { try JSONWebKeySet(json: Array("[]".utf8)) }
    }

    @Test("roles: groups map to roles; admin grants all, every role grants reading, no mapped group grants nothing")
    func roles() {
        let mapping = RoleMapping(["accord-approvers": [.approver], "accord-editors": [.editor], "accord-admins": [.admin]])
        let alice = mapping.roles(memberOf: ["accord-approvers", "unrelated"])
        #expect(alice.grants(.approver) && alice.grants(.viewer) && !alice.grants(.editor) && !alice.grants(.admin))
        #expect(Role.allCases.allSatisfy(mapping.roles(memberOf: ["accord-admins"]).grants))
        #expect(mapping.roles(memberOf: ["unrelated"]).isEmpty)
        #expect(!mapping.roles(memberOf: []).grants(.viewer))
    }
}
