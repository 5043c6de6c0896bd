import AccordAdminAPI
import AccordCrypto
@testable import AccordDaemon
import AccordModel
import AccordSync
import Foundation
import Testing

/// The pure checks behind the operator traps: what this node lets its people write, how a
/// connection problem is named, when sessions that replace each other mean two processes.
@Suite("Operator traps: pure parts")
struct AuthoringChecksTests {
    let checks = AuthoringChecks(knownOrganisations: ["acme", "globex"], allowUnknownParties: false)

    func refusal(_ edits: [Edit], on current: Agreement? = nil, _ checks: AuthoringChecks? = nil) -> String? {
        do {
            try (checks ?? self.checks).check(edits, on: current)
            return nil
        } catch {
            return error.body.code
        }
    }

    static func date(_ text: String) -> CalendarDate { CalendarDate(iso8601: text)! }

    @Test("a new agreement: parties this node knows, a term in order, commitments owed by parties; an unknown party on purpose")
    func newAgreement() {
        let base: [Edit] = [.set(.title, .text("x")), .addParty("acme"), .addParty("globex")]
        #expect(refusal(base) == nil)
        #expect(refusal(base + [.addParty("contosso")]) == "unknown-organisation")
        #expect(refusal(base + [.addParty("contosso")], AuthoringChecks(knownOrganisations: ["acme"], allowUnknownParties: true)) == nil)
        let from: Edit = .set(.effectiveFrom, .date(Self.date("2027-01-01")))
        #expect(refusal(base + [from, .set(.expiresOn, .date(Self.date("2026-12-31")))]) == "term-inverted")
        #expect(refusal(base + [from, .set(.expiresOn, .date(Self.date("2027-01-01")))]) == nil, "one day is a term")
        #expect(refusal(base + [from, .set(.expiresOn, .date(nil))]) == nil, "open-ended")
        let commitment = CommitmentID(UUIDBytes(high: 1, low: 2))
        #expect(refusal(base + [.set(.commitment(commitment, .by), .organisation("globex"))]) == nil)
        #expect(refusal(base + [.set(.commitment(commitment, .by), .organisation("initech"))]) == "commitment-owner-not-party")
    }

    @Test("an edit is judged on the agreement as it will be: the dates it keeps, the parties it adds and withdraws")
    func edits() throws {
        let current = try Self.agreement([
            .set(.title, .text("x")), .addParty("acme"), .addParty("globex"), .set(.effectiveFrom, .date(Self.date("2027-01-01"))),
        ])
        #expect(refusal([.set(.expiresOn, .date(Self.date("2026-06-30")))], on: current) == "term-inverted")
        #expect(refusal([.set(.effectiveFrom, .date(nil)), .set(.expiresOn, .date(Self.date("2026-06-30")))], on: current) == nil)
        let commitment = CommitmentID(UUIDBytes(high: 1, low: 2))
        #expect(refusal([.withdrawParty("globex"), .set(.commitment(commitment, .by), .organisation("globex"))], on: current) == "commitment-owner-not-party")
        #expect(refusal([.addParty("contosso")], on: current) == "unknown-organisation")
    }

    /// The agreement a genesis of `edits` by acme makes.
    static func agreement(_ edits: [Edit]) throws -> Agreement {
        let signer = ChangeSigner(node: NodeID(organisation: "acme", name: "n1")!, key: try P256PrivateKey.generate())
        let genesis = try Change.genesis(stamp: Stamp(millis: 1_700_000_000_000, counter: 0, node: signer.node), edits: edits)
        var replica = AgreementReplica(id: genesis.agreement)
        _ = replica.apply(try signer.sign(genesis), nowMillis: 1_700_000_000_000)
        return replica.agreement
    }

    @Test("two processes with one certificate: young sessions replaced three times within ten minutes; honest reconnects are not")
    func duplicateIdentity() {
        var watch = DuplicateIdentityWatch()
        let node = NodeID(organisation: "globex", name: "node1")!
        let start = ContinuousClock.now
        // A stale session replaced after an hour, three times: reconnects, not a twin.
        var reported: [Bool] = []
        for index in 0..<3 { reported.append(watch.replaced(node, after: .seconds(3600), at: start + .seconds(index))) }
        #expect(reported == [false, false, false])
        reported = []
        for seconds in [10, 20, 30, 40] { reported.append(watch.replaced(node, after: .seconds(5), at: start + .seconds(seconds))) }
        #expect(reported == [false, false, true, false], "the third young replacement reports it, once per window")
        #expect(watch.suspected(at: start + .seconds(41)) == [node])
        #expect(watch.suspected(at: start + .seconds(700)).isEmpty, "forgotten after the window")
    }

    @Test("two processes with one certificate, the other way: new sessions closed as duplicates while the kept one is heard from after each; a restarted node's redials are not")
    func duplicateSessionsClosed() {
        let node = NodeID(organisation: "globex", name: "node1")!
        let start = ContinuousClock.now
        // A restarted node: the kept session is its old one, last heard from before the restart.
        var restarted = DuplicateIdentityWatch()
        let reports = [1, 2, 4, 8, 16, 32].map { restarted.duplicateClosed(node, keptLastHeard: start, at: start + .seconds($0)) }
        #expect(!reports.contains(true), "the old session is never heard from again: no twin")
        // A twin: the kept session pings every 15 s while the other process redials.
        var twin = DuplicateIdentityWatch()
        var reported: [Bool] = []
        for (seconds, heard) in [(1, 0), (3, 2), (20, 15), (40, 30), (70, 60)] {
            reported.append(twin.duplicateClosed(node, keptLastHeard: start + .seconds(heard), at: start + .seconds(seconds)))
        }
        #expect(reported == [false, false, false, true, false], "the third confirmed duplicate reports it, once per window")
        #expect(twin.suspected(at: start + .seconds(71)) == [node])
    }
}
