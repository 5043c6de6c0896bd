import AccordCrypto
import AccordModel
import AccordPeople
import Foundation
import Testing

@testable import AccordDaemon

/// The people parts of the console on an injected clock: pending sign-ins (bounded, single-use,
/// bound to the browser, expiring), sessions of people (listed without their secrets, ended by
/// handle), and how a person is named in attributions as the organisation chose.
@Suite("People: pending sign-ins, sessions, naming")
struct PeopleUnitTests {
    let start = ContinuousClock.now

    @Test("a pending sign-in is spent once, only by the browser that started it, within its lifetime; a flood keeps the table bounded, and one address cannot push others' sign-ins out")
    func pendingSignIns() throws {
        let pending = PendingSignIns(capacity: 8, perSource: 100, lifetime: .seconds(600))
        let first = try pending.start(source: "10.0.0.1", now: start)
        #expect(first.codeChallenge == Base64URL.encode(SHA256Digest(hashing: Array(try pending.finish(state: first.state, browserSecret: first.browserSecret, now: start).codeVerifier.utf8)).bytes))
        #expect(throws: SignInRefusal.self, "single use") { try pending.finish(state: first.state, browserSecret: first.browserSecret, now: start) }

        let planted = try pending.start(source: "10.0.0.1", now: start)
        #expect(throws: SignInRefusal.self, "another browser") { try pending.finish(state: planted.state, browserSecret: "other", now: start) }
        #expect(throws: SignInRefusal.self, "spent by the failed try") { try pending.finish(state: planted.state, browserSecret: planted.browserSecret, now: start) }

        let late = try pending.start(source: "10.0.0.1", now: start)
        #expect(throws: SignInRefusal.self, "expired") { try pending.finish(state: late.state, browserSecret: late.browserSecret, now: start + .seconds(601)) }

        for second in 0..<100 { _ = try pending.start(source: "10.0.1.\(second)", now: start + .seconds(second)) }
        #expect(pending.count == 8, "a flood of starts keeps at most the capacity")
        let newest = try pending.start(source: "10.0.0.1", now: start + .seconds(200))
        #expect(try pending.finish(state: newest.state, browserSecret: newest.browserSecret, now: start + .seconds(200)).nonce == newest.nonce)

        // One address floods: it is refused after 4 pending, and Alice's sign-in survives it.
        let limited = PendingSignIns(capacity: 8, perSource: 4, lifetime: .seconds(600))
        let alice = try limited.start(source: "192.0.2.7", now: start)
        for _ in 0..<4 { _ = try limited.start(source: "203.0.113.9", now: start + .seconds(1)) }
        for _ in 0..<1000 {
            #expect(throws: SignInRefusal.self) { try limited.start(source: "203.0.113.9", now: start + .seconds(2)) }
        }
        #expect(limited.count == 5)
        #expect(try limited.finish(state: alice.state, browserSecret: alice.browserSecret, now: start + .seconds(3)).nonce == alice.nonce)
        #expect(throws: Never.self, "its pending ones expire, and it may start again") { try limited.start(source: "203.0.113.9", now: start + .seconds(700)) }
    }

    @Test("sessions of people are listed with who and what roles, never their secret, and end by handle")
    func sessions() throws {
        let authority = ConsoleAuthority()
        let alice = Person(subject: "alice", name: "Alice Chen", email: nil, roles: RoleSet([.approver]), signIn: .identityProvider)
        let aliceSession = authority.open(for: alice, source: "127.0.0.1", now: start)
        _ = authority.open(for: .breakGlass, source: "127.0.0.1", now: start + .seconds(1))
        let listed = authority.sessions(now: start + .seconds(2))
        #expect(listed.map(\.person.subject) == ["token", "alice"], "most recently seen first")
        #expect(listed.allSatisfy { !aliceSession.hasPrefix($0.handle) && $0.handle.count == 16 })
        let handle = try #require(listed.first { $0.person == alice }?.handle)
        #expect(authority.end(handle: handle))
        #expect(authority.session(aliceSession, now: start + .seconds(3)) == nil)
        #expect(!authority.end(handle: handle) && !authority.end(handle: "short"))
    }

    @Test("[people] share: a name, an e-mail, or a keyed pseudonym stable for the person and different for another key; break-glass named as such")
    func naming() throws {
        let alice = Person(subject: "alice", name: "Alice\u{7} Chen", email: "alice@acme.example", roles: RoleSet([.editor]), signIn: .identityProvider)
        let byName = ActorNaming(sharing: .name, issuer: "http://localhost:9400", pseudonymKey: nil).actor(for: alice)
        #expect(byName == (try ActingPerson(kind: .person, id: "alice", name: "Alice Chen")), "control characters are dropped")
        let byEmail = ActorNaming(sharing: .email, issuer: nil, pseudonymKey: nil).actor(for: alice)
        #expect(byEmail?.email == "alice@acme.example" && byEmail?.name == nil)
        let key = Array(repeating: UInt8(7), count: 32)
        let pseudonym = ActorNaming(sharing: .pseudonym, issuer: "http://localhost:9400", pseudonymKey: key).actor(for: alice)
        #expect(pseudonym?.name == nil && pseudonym?.email == nil && pseudonym?.id.hasPrefix("p-") == true && pseudonym?.id.contains("alice") == false)
        #expect(pseudonym == ActorNaming(sharing: .pseudonym, issuer: "http://localhost:9400", pseudonymKey: key).actor(for: alice), "stable")
        #expect(pseudonym != ActorNaming(sharing: .pseudonym, issuer: "http://localhost:9400", pseudonymKey: [UInt8](repeating: 8, count: 32)).actor(for: alice))
        #expect(ActorNaming.plain.actor(for: .breakGlass)?.kind == .breakGlass)
        #expect(ActorNaming.localUser(uid: 0)?.id == "root")
    }
}
