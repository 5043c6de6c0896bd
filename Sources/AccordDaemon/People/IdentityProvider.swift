import AccordCrypto
import AccordPeople
import Foundation
import Logging

/// The organisation's OpenID Connect provider as the console's sign-in uses it: its discovery
/// document, its signing keys, the authorization request and the code's redemption.
///
/// Discovery and keys are fetched when first needed and kept. When a token names a key the set
/// lacks (or, with no key id, verifies with none of them), the keys are fetched once more —
/// the provider may have rotated them — at most once every `keyRefetchInterval`, so tokens
/// made up by an attacker cannot make the node hammer the provider.
actor IdentityProvider {
    struct Endpoints: Sendable {
        let authorization: URL
        let token: URL
        let keys: URL
        let endSession: URL?
    }

    static let keyRefetchInterval: Duration = .seconds(10)

    let configuration: SignInConfiguration
    private let clientSecret: String
    private let client: ProviderHTTPClient
    private let logger: Logger
    private let verifier: IDTokenVerifier
    private var endpoints: Endpoints?
    private var keys: JSONWebKeySet?
    private var keysFetched: ContinuousClock.Instant?

    init(configuration: SignInConfiguration, clientSecret: String, client: ProviderHTTPClient = ProviderHTTPClient(), logger: Logger) {
        self.configuration = configuration
        self.clientSecret = clientSecret
        self.client = client
        self.logger = logger
        verifier = IDTokenVerifier(
            issuer: configuration.issuer, clientID: configuration.clientID, groupsClaim: configuration.groupsClaim, leeway: SignInConfiguration.leeway
        )
    }

    /// Where to send the browser to sign in.
    func authorizationURL(state: String, nonce: String, codeChallenge: String) async throws -> URL {
        var components = URLComponents(url: try await discovered().authorization, resolvingAgainstBaseURL: false)!
        components.percentEncodedQueryItems = (components.percentEncodedQueryItems ?? []) + [
            ("response_type", "code"), ("client_id", configuration.clientID), ("redirect_uri", configuration.redirectURL),
            ("scope", configuration.scopes.joined(separator: " ")), ("state", state), ("nonce", nonce),
            ("code_challenge", codeChallenge), ("code_challenge_method", "S256"),
        ].map { URLQueryItem(name: $0.0, value: ProviderHTTPClient.formEncode($0.1)) }
        guard let url = components.url else { throw ProviderUnreachable("the provider's authorization endpoint makes no URL") }
        return url
    }

    /// Redeems an authorization code for the person's verified ID token claims.
    func signIn(code: String, codeVerifier: String, nonce: String, now: Date) async throws -> IDTokenClaims {
        let endpoints = try await discovered()
        let credentials = "\(ProviderHTTPClient.formEncode(configuration.clientID)):\(ProviderHTTPClient.formEncode(clientSecret))"
        let answer = try await client.postForm(
            endpoints.token,
            [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", configuration.redirectURL), ("code_verifier", codeVerifier)],
            headers: [("Authorization", "Basic \(Data(credentials.utf8).base64EncodedString())")]
        )
        let document = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
        guard answer.status == 200, let idToken = document?["id_token"] as? String else {
            let error = document?["error"] as? String ?? "HTTP \(answer.status)"
            throw SignInRefusal(.codeRefused, "the provider did not redeem the code: \(error)")
        }
        return try await verified(idToken, nonce: nonce, now: now)
    }

    /// The token's claims, checked against the provider's keys — fetched once more if the
    /// token's key is not among them.
    private func verified(_ idToken: String, nonce: String, now: Date) async throws -> IDTokenClaims {
        let keys = try await signingKeys()
        let first = Result { () throws(IDTokenRejection) in try verifier.verify(idToken, keys: keys, nonce: nonce, now: now) }
        switch first {
        case .success(let claims):
            return claims
        case .failure(let rejection) where rejection.reason == .unknownKey:
            guard let keys = try await refetchedKeys() else { throw SignInRefusal(rejection) }
            do {
                return try verifier.verify(idToken, keys: keys, nonce: nonce, now: now)
            } catch {
                throw SignInRefusal(error)
            }
        case .failure(let rejection):
            throw SignInRefusal(rejection)
        }
    }

    /// Where signing out of the provider too goes, if it says.
    func endSessionURL() async -> URL? { try? await discovered().endSession }

    private func discovered() async throws -> Endpoints {
        if let endpoints { return endpoints }
        let url = URL(string: configuration.issuer.trimmingSuffix("/") + "/.well-known/openid-configuration")!
        let answer = try await client.get(url)
        guard answer.status == 200, let document = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any] else {
            throw ProviderUnreachable("\(url.absoluteString) answered HTTP \(answer.status), not a discovery document")
        }
        // The document must be the configured issuer's (OpenID Connect Discovery §4.3).
        guard document["issuer"] as? String == configuration.issuer else {
            throw ProviderUnreachable("the discovery document names issuer \(document["issuer"] ?? "none"), not \(configuration.issuer)")
        }
        // An https provider's endpoints are https too: the secret and codes never go in clear.
        let secure = configuration.issuer.hasPrefix("https:")
        func endpoint(_ name: String) throws -> URL {
            guard let text = document[name] as? String, let url = URL(string: text), url.scheme == "https" || (!secure && url.scheme == "http") else {
                throw ProviderUnreachable("the discovery document has no \(name)\(secure ? " over https" : "")")
            }
            return url
        }
        let found = Endpoints(
            authorization: try endpoint("authorization_endpoint"), token: try endpoint("token_endpoint"), keys: try endpoint("jwks_uri"),
            endSession: try? endpoint("end_session_endpoint")
        )
        endpoints = found
        logger.info("identity provider discovered", metadata: ["issuer": "\(configuration.issuer)"])
        return found
    }

    private func signingKeys() async throws -> JSONWebKeySet {
        if let keys { return keys }
        return try await fetchKeys()
    }

    /// The keys fetched again, unless they were fetched within `keyRefetchInterval`.
    private func refetchedKeys() async throws -> JSONWebKeySet? {
        if let keysFetched, ContinuousClock.now - keysFetched < Self.keyRefetchInterval { return nil }
        return try await fetchKeys()
    }

    private func fetchKeys() async throws -> JSONWebKeySet {
        keysFetched = .now
        let answer = try await client.get(try await discovered().keys)
        guard answer.status == 200 else { throw ProviderUnreachable("the provider's keys answered HTTP \(answer.status)") }
        let set = try JSONWebKeySet(json: answer.body)
        for skipped in set.skipped { logger.notice("a key of the identity provider is not used", metadata: ["key": "\(skipped)"]) }
        keys = set
        logger.info("identity provider keys fetched", metadata: ["keys": "\(set.keys.count)"])
        return set
    }
}

/// Why a sign-in through the provider failed: a reason for the log and the count, and the text
/// the person is shown.
struct SignInRefusal: Error, CustomStringConvertible {
    enum Reason: String {
        case codeRefused = "code-refused"
        case stateUnknown = "state-unknown"
        case bindingMismatch = "browser-mismatch"
        case providerError = "provider-error"
        case noRole = "no-role"
        case tooManyStarted = "sign-in-flood"
    }

    let reason: String
    let message: String

    init(_ reason: Reason, _ message: String) {
        self.reason = reason.rawValue
        self.message = message
    }

    init(_ rejection: IDTokenRejection) {
        reason = rejection.reason.rawValue
        message = "the provider's ID token was refused: \(rejection.message)"
    }

    var description: String { "\(reason): \(message)" }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
