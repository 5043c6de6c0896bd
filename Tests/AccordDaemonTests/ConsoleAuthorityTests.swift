@testable import AccordDaemon
import Testing

/// The console's login rules, on an injected clock: tokens, sessions and throttling.
@Suite("Web console: tokens, sessions, throttling")
struct ConsoleAuthorityTests {
    let start = ContinuousClock.now

    @Test("a token opens one session, once, before it expires; the session's CSRF token is its own")
    func tokens() {
        let authority = ConsoleAuthority()
        let token = authority.issueToken(validity: .seconds(60), now: start)
        guard case .opened(let sessionID) = authority.logIn(token: token, source: "a", now: start + .seconds(1)) else {
            Issue.record("a fresh token is refused")
            return
        }
        #expect(authority.logIn(token: token, source: "a", now: start + .seconds(2)) == .refused, "single use")
        let expired = authority.issueToken(validity: .seconds(60), now: start)
        #expect(authority.logIn(token: expired, source: "b", now: start + .seconds(61)) == .refused, "expired")
        let other = authority.issueToken(validity: .seconds(60), now: start)
        guard case .opened(let secondID) = authority.logIn(token: other, source: "c", now: start) else { return }
        let first = authority.session(sessionID, now: start + .seconds(3))
        let second = authority.session(secondID, now: start + .seconds(3))
        #expect(first != nil && second != nil && first?.csrf != second?.csrf)
        #expect(token.count == 43 && sessionID.count == 43, "32 random bytes, base64url")
    }

    @Test("a session ends after an hour idle, after twelve hours in all, and at logout")
    func sessionLifetimes() {
        let authority = ConsoleAuthority()
        func open() -> String {
            guard case .opened(let id) = authority.logIn(token: authority.issueToken(validity: .seconds(60), now: start), source: "a", now: start) else {
                return ""
            }
            return id
        }
        let idle = open()
        #expect(authority.session(idle, now: start + .seconds(3599)) != nil)
        #expect(authority.session(idle, now: start + .seconds(3599 + 3600)) == nil, "idle for an hour")
        let busy = open()
        var now = start
        while now < start + .seconds(11 * 3600) {
            now += .seconds(1800)
            #expect(authority.session(busy, now: now) != nil)
        }
        #expect(authority.session(busy, now: start + .seconds(12 * 3600)) == nil, "twelve hours at most, however busy")
        let leaving = open()
        authority.logOut(leaving)
        #expect(authority.session(leaving, now: start) == nil)
    }

    @Test("failed logins are throttled per source and in all; the tables stay bounded")
    func throttling() {
        var limits = ConsoleAuthority.Limits()
        limits.trackedSources = 8
        limits.sessions = 4
        limits.outstandingTokens = 4
        let authority = ConsoleAuthority(limits: limits)
        for attempt in 0..<5 { #expect(authority.logIn(token: "guess\(attempt)", source: "x", now: start) == .refused) }
        let valid = authority.issueToken(validity: .seconds(600), now: start)
        guard case .throttled(let retry) = authority.logIn(token: valid, source: "x", now: start + .seconds(10)) else {
            Issue.record("the sixth attempt from one source is not throttled")
            return
        }
        #expect(retry == .seconds(50))
        guard case .opened = authority.logIn(token: valid, source: "y", now: start + .seconds(10)) else {
            Issue.record("another source is throttled too")
            return
        }
        #expect(authority.logIn(token: "guess", source: "x", now: start + .seconds(61)) == .refused, "a minute later it may try again")
        // Many sources: all in all 30 failures a minute, whoever they come from.
        for source in 0..<40 { _ = authority.logIn(token: "guess", source: "s\(source)", now: start + .seconds(70)) }
        if case .throttled = authority.logIn(token: "guess", source: "fresh", now: start + .seconds(70)) {} else {
            Issue.record("the global limit does not hold")
        }
        // Tokens and sessions beyond the limits push out the oldest.
        let tokens = (0..<6).map { authority.issueToken(validity: .seconds(600), now: start + .seconds(200 + $0)) }
        #expect(authority.logIn(token: tokens[0], source: "z", now: start + .seconds(300)) == .refused, "the oldest token was dropped")
        for token in tokens.suffix(4) { _ = authority.logIn(token: token, source: "z", now: start + .seconds(300)) }
        #expect(authority.sessionCount <= 4)
    }
}
