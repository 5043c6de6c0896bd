import AccordCrypto
import AccordPeople
import NIOConcurrencyHelpers

/// Sign-ins sent to the identity provider and not back yet: for each, the `state` the provider
/// echoes, the `nonce` the ID token must carry, the PKCE code verifier, and a secret kept in a
/// cookie of the browser that started it — so a callback URL replayed in, or planted on,
/// another browser finds nothing (login CSRF).
///
/// Single-use, kept for `lifetime`, at most `capacity` (the oldest go first): a flood of
/// sign-in starts costs a bounded table, never memory without end; and at most `perSource` from
/// one address, so one client's flood cannot push everyone else's sign-ins out. Only digests of
/// `state` and of the browser's secret are kept.
final class PendingSignIns: Sendable {
    struct Started: Sendable {
        let state: String
        let nonce: String
        let codeChallenge: String
        /// The cookie value that ties the callback to this browser.
        let browserSecret: String
    }

    struct Pending: Sendable {
        let nonce: String
        let codeVerifier: String
        let browserDigest: String
        let started: ContinuousClock.Instant
        /// The address the sign-in was started from.
        let source: String
    }

    let capacity: Int
    let perSource: Int
    let lifetime: Duration
    private let pending = NIOLockedValueBox([String: Pending]())

    init(capacity: Int = 256, perSource: Int = 16, lifetime: Duration = .seconds(600)) {
        self.capacity = capacity
        self.perSource = perSource
        self.lifetime = lifetime
    }

    /// A new pending sign-in from `source`; refused while `source` has `perSource` pending.
    func start(source: String, now: ContinuousClock.Instant = .now) throws(SignInRefusal) -> Started {
        let (state, nonce, verifier, browser) = (
            ConsoleAuthority.randomSecret(), ConsoleAuthority.randomSecret(), ConsoleAuthority.randomSecret(), ConsoleAuthority.randomSecret()
        )
        let admitted = pending.withLockedValue { table in
            table = table.filter { now - $0.value.started < lifetime }
            guard table.values.count(where: { $0.source == source }) < perSource else { return false }
            if table.count >= capacity, let oldest = table.min(by: { $0.value.started < $1.value.started })?.key { table[oldest] = nil }
            table[Self.digest(state)] = Pending(nonce: nonce, codeVerifier: verifier, browserDigest: Self.digest(browser), started: now, source: source)
            return true
        }
        guard admitted else {
            throw SignInRefusal(.tooManyStarted, "\(perSource) sign-ins from this address are waiting for the identity provider; finish one or wait")
        }
        return Started(state: state, nonce: nonce, codeChallenge: Base64URL.encode(SHA256Digest(hashing: Array(verifier.utf8)).bytes), browserSecret: browser)
    }

    /// The sign-in `state` names, spent, if this browser started it within `lifetime`.
    func finish(state: String, browserSecret: String?, now: ContinuousClock.Instant = .now) throws(SignInRefusal) -> Pending {
        guard let found = pending.withLockedValue({ $0.removeValue(forKey: Self.digest(state)) }), now - found.started < lifetime else {
            throw SignInRefusal(.stateUnknown, "this sign-in is unknown, used already or older than \(lifetime.components.seconds / 60) minutes")
        }
        guard let browserSecret, constantTimeEqual(Self.digest(browserSecret), found.browserDigest) else {
            throw SignInRefusal(.bindingMismatch, "this sign-in was started in another browser")
        }
        return found
    }

    var count: Int { pending.withLockedValue { $0.count } }

    private static func digest(_ secret: String) -> String { SHA256Digest(hashing: Array(secret.utf8)).hex }
}
