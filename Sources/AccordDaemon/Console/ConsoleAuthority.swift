import AccordCrypto
import AccordPeople
import Foundation
import NIOConcurrencyHelpers

/// Who may use the web console: one-time login tokens (issued through the admin socket, so only
/// someone who can already administer the node can hand one out), the sessions they open, and
/// the rate of failed logins. Only SHA-256 hashes of tokens and session ids are kept, so neither
/// can be read back from memory dumps or logs; every table is bounded.
///
/// A pure state machine under one lock, driven by an injected time, so its rules are tested
/// without waiting.
final class ConsoleAuthority: Sendable {
    struct Limits: Sendable {
        var outstandingTokens = 64
        var sessions = 256
        var sessionIdle: Duration = .seconds(3600)
        var sessionLifetime: Duration = .seconds(12 * 3600)
        /// Failed logins per source address and window, and in all.
        var failuresPerSource = 5
        var failuresInAll = 30
        var failureWindow: Duration = .seconds(60)
        var trackedSources = 1024
    }

    struct Session: Sendable {
        /// The token every form of this session carries (`csrf`), compared on every action.
        let csrf: String
        let person: Person
        /// Where the sign-in came from.
        let source: String
        let opened: ContinuousClock.Instant
        var lastSeen: ContinuousClock.Instant
        /// When it was opened, as the wall clock said (for `accordctl console sessions`).
        let openedAt: Date
    }

    /// A live session as operators see it: never its secret, only a handle to end it by.
    struct Summary: Sendable {
        /// The first 16 hex digits of the digest of the session's secret.
        let handle: String
        let person: Person
        let source: String
        let openedAt: Date
        let idle: Duration
    }

    enum LoginOutcome: Equatable {
        /// The cookie value of the new session.
        case opened(sessionID: String)
        case refused
        /// Too many failures from this source (or in all) lately: try again after the duration.
        case throttled(retryAfter: Duration)
    }

    let limits: Limits
    private let state = NIOLockedValueBox(State())

    init(limits: Limits = Limits()) { self.limits = limits }

    /// A new single-use login token, valid for `validity`; the oldest is dropped past the limit.
    func issueToken(validity: Duration, now: ContinuousClock.Instant = .now) -> String {
        let token = Self.randomSecret()
        state.withLockedValue { state in
            state.tokens = state.tokens.filter { $0.value > now }
            if state.tokens.count >= limits.outstandingTokens, let oldest = state.tokens.min(by: { $0.value < $1.value })?.key {
                state.tokens[oldest] = nil
            }
            state.tokens[Self.digest(token)] = now + validity
        }
        return token
    }

    /// Spends `token` for a session if it is valid and the source is not throttled.
    func logIn(token: String, source: String, now: ContinuousClock.Instant = .now) -> LoginOutcome {
        state.withLockedValue { state in
            state.forgetFailures(before: now - limits.failureWindow)
            let sourceFailures = state.failures[source] ?? []
            if sourceFailures.count >= limits.failuresPerSource || state.allFailures.count >= limits.failuresInAll {
                let oldest = (sourceFailures.count >= limits.failuresPerSource ? sourceFailures : state.allFailures).first ?? now
                return .throttled(retryAfter: max(.seconds(1), oldest + limits.failureWindow - now))
            }
            let key = Self.digest(token)
            guard let expires = state.tokens.removeValue(forKey: key), expires > now else {
                if state.failures[source] == nil, state.failures.count >= limits.trackedSources,
                    let stalest = state.failures.min(by: { ($0.value.last ?? now) < ($1.value.last ?? now) })?.key
                {
                    state.failures[stalest] = nil
                }
                state.failures[source, default: []].append(now)
                state.allFailures.append(now)
                if state.allFailures.count > limits.failuresInAll { state.allFailures.removeFirst() }
                return .refused
            }
            return .opened(sessionID: state.open(for: .breakGlass, source: source, now: now, limits: limits))
        }
    }

    /// Opens a session for `person`, signed in through the identity provider; returns the
    /// cookie value.
    func open(for person: Person, source: String, now: ContinuousClock.Instant = .now) -> String {
        state.withLockedValue { $0.open(for: person, source: source, now: now, limits: limits) }
    }

    /// The live sessions, most recently seen first.
    func sessions(now: ContinuousClock.Instant = .now) -> [Summary] {
        state.withLockedValue { state in
            state.expireSessions(now: now, limits: limits)
            return state.sessions.sorted { $0.value.lastSeen > $1.value.lastSeen }.map { key, session in
                Summary(handle: String(key.prefix(16)), person: session.person, source: session.source, openedAt: session.openedAt, idle: now - session.lastSeen)
            }
        }
    }

    /// Ends the session with `handle`; false if there is none.
    func end(handle: String) -> Bool {
        state.withLockedValue { state in
            guard handle.count == 16, let key = state.sessions.keys.first(where: { $0.hasPrefix(handle) }) else { return false }
            state.sessions[key] = nil
            return true
        }
    }

    /// The live session with cookie value `sessionID` (its idle time restarts), if any.
    func session(_ sessionID: String, now: ContinuousClock.Instant = .now) -> Session? {
        state.withLockedValue { state in
            let key = Self.digest(sessionID)
            guard var session = state.sessions[key] else { return nil }
            guard now - session.lastSeen < limits.sessionIdle, now - session.opened < limits.sessionLifetime else {
                state.sessions[key] = nil
                return nil
            }
            session.lastSeen = now
            state.sessions[key] = session
            return session
        }
    }

    func logOut(_ sessionID: String) { _ = state.withLockedValue { $0.sessions.removeValue(forKey: Self.digest(sessionID)) } }

    var sessionCount: Int { state.withLockedValue { $0.sessions.count } }

    /// 32 random bytes, base64url without padding: a token, a session id or a CSRF token.
    static func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Base64URL.encode(bytes)
    }

    fileprivate static func digest(_ secret: String) -> String { SHA256Digest(hashing: Array(secret.utf8)).hex }

    private struct State {
        var tokens: [String: ContinuousClock.Instant] = [:]
        var sessions: [String: Session] = [:]
        /// Failed logins per source address, oldest first.
        var failures: [String: [ContinuousClock.Instant]] = [:]
        /// The latest failed logins from anywhere (at most `failuresInAll`), oldest first: the
        /// limit in all holds however many sources an attacker uses.
        var allFailures: [ContinuousClock.Instant] = []

        mutating func forgetFailures(before cutoff: ContinuousClock.Instant) {
            allFailures.removeAll { $0 <= cutoff }
            failures = failures.compactMapValues { times in
                let kept = times.filter { $0 > cutoff }
                return kept.isEmpty ? nil : kept
            }
        }

        mutating func open(for person: Person, source: String, now: ContinuousClock.Instant, limits: Limits) -> String {
            expireSessions(now: now, limits: limits)
            if sessions.count >= limits.sessions, let stalest = sessions.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key {
                sessions[stalest] = nil
            }
            let sessionID = ConsoleAuthority.randomSecret()
            sessions[ConsoleAuthority.digest(sessionID)] = Session(
                csrf: ConsoleAuthority.randomSecret(), person: person, source: source, opened: now, lastSeen: now, openedAt: Date()
            )
            return sessionID
        }

        mutating func expireSessions(now: ContinuousClock.Instant, limits: Limits) {
            sessions = sessions.filter { now - $0.value.lastSeen < limits.sessionIdle && now - $0.value.opened < limits.sessionLifetime }
        }
    }
}
