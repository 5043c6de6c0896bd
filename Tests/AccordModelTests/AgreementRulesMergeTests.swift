import AccordCrypto
import AccordModel
import AccordTestSupport
import Testing

/// How the edits of trust rules 6–9 merge when made concurrently (docs/merge-rules.md): the
/// outcomes a random history reaches too rarely to check in every batch of the convergence test.
@Suite("Merge semantics of the agreement rules")
struct AgreementRulesMergeTests {
    var network = ThreeCompanies()
    let genesis: VerifiedChange
    let agreement: AgreementID
    let t = ThreeCompanies.start
    let subsidy = CommitmentID(UUIDBytes(high: 1, low: 1))

    /// acme, globex and a mistaken initech; globex owes a subsidy.
    init() throws {
        genesis = try network.acme.create(ThreeCompanies.genesisEdits + [.addParty("initech"), .set(.noticePeriod, .days(30))], at: t)
        agreement = genesis.change.agreement
        let commitment = try network.acme.edit(agreement, [
            .set(.commitment(subsidy, .by), .organisation("globex")), .set(.commitment(subsidy, .kind), .commitmentKind(.rdSubsidy)),
            .set(.commitment(subsidy, .description), .text("R&D subsidy")),
        ], at: t + 1)
        for node in [\ThreeCompanies.globex, \.initech] {
            network[keyPath: node].receive(genesis, at: t + 2)
            network[keyPath: node].receive(commitment, at: t + 2)
        }
    }

    func view(_ node: TestNode) throws -> Agreement { try #require(node.replica[agreement]).agreement }

    /// Delivers every change to every node in the given order, and checks the states are byte-identical.
    mutating func exchange(_ changes: [VerifiedChange], at millis: UInt64) throws {
        for node in [\ThreeCompanies.acme, \.globex, \.initech] {
            for change in changes { network[keyPath: node].receive(change, at: millis) }
        }
        let states = try [network.acme, network.globex, network.initech].map { try #require($0.replica[agreement]).state.canonicalEncoding }
        #expect(states.allSatisfy { $0 == states[0] })
    }

    @Test("a removal the other party consented to takes effect; an approval by the removed party made concurrently does not keep it")
    mutating func removalConcurrentWithApproval() throws {
        let consent = try network.globex.edit(agreement, [.consentToRemoval("initech")], at: t + 10)
        network.acme.receive(consent, at: t + 11)
        let removal = try network.acme.edit(agreement, [.removeParty("initech")], at: t + 12)
        // initech approves without having seen the removal: accepted, but it is no party any more.
        let approval = try network.initech.edit(agreement, [try network.initech.approval(of: agreement)], at: t + 12)
        try exchange([consent, removal, approval], at: t + 20)
        #expect(try view(network.globex).parties == ["acme", "globex"])
        #expect(try view(network.globex).approvals["initech"] == nil)
        // A later add, made after seeing the removal, brings it back (add-wins, like a withdrawal).
        let readd = try network.globex.edit(agreement, [.addParty("initech")], at: t + 30)
        try exchange([readd], at: t + 31)
        #expect(try view(network.acme).parties == ["acme", "globex", "initech"])
    }

    @Test("claim, dispute, claim and confirm settle in causal order; a waiver concurrent with a claim is decided by the later stamp everywhere")
    mutating func fulfilment() throws {
        let claim = try network.globex.edit(agreement, [.progress(subsidy, period: nil, step: .claim, text: "paid")], at: t + 10)
        try exchange([claim], at: t + 11)
        let dispute = try network.acme.edit(agreement, [.progress(subsidy, period: nil, step: .dispute, text: "half arrived")], at: t + 12)
        try exchange([dispute], at: t + 13)
        #expect(try view(network.globex).commitments[0].state == .disputed)
        let again = try network.globex.edit(agreement, [.progress(subsidy, period: nil, step: .claim, text: "rest paid")], at: t + 14)
        // acme waives without having seen the second claim; initech (also owed) confirms it later.
        let waiver = try network.acme.edit(agreement, [.progress(subsidy, period: nil, step: .waive, text: "")], at: t + 15)
        try exchange([again, waiver], at: t + 16)
        let commitment = try view(network.initech).commitments[0]
        #expect(commitment.state == .waived, "the waiver is stamped later")
        #expect(commitment.progress.write?.author == network.acme.id)
        let confirm = try network.initech.craft(agreement, [.progress(subsidy, period: nil, step: .confirm, text: "")], at: t + 17)
        #expect(network.acme.receive(confirm, at: t + 18).outcome == .rejected(ChangeRejection(.progressOutOfOrder, "")), "it saw no open claim")
    }

    @Test("a termination with notice takes effect after it, steps of fulfilment go on meanwhile, and once every party agreed it ends at once")
    mutating func termination() throws {
        let day: UInt64 = 86_400_000
        let notice = try network.acme.edit(agreement, [.terminate(reason: "pilot over")], at: t + 10)
        try exchange([notice], at: t + 11)
        let given = CalendarDate(unixMillis: t + 10)
        #expect(try view(network.globex).terminatesOn == given.adding(days: 30))
        #expect(try view(network.globex).status(on: given.adding(days: 1)) == .terminating)
        #expect(try view(network.globex).status(on: given.adding(days: 30)) == .terminated)
        // Steps of fulfilment go on during the notice; term edits do not.
        let claim = try network.globex.edit(agreement, [.progress(subsidy, period: nil, step: .claim, text: "paid")], at: t + 12)
        #expect(network.acme.receive(claim, at: t + 13).outcome == .accepted)
        let globexAgrees = try network.globex.edit(agreement, [.agreeTermination(reason: "fine")], at: t + 2 * day)
        try exchange([claim, globexAgrees], at: t + 2 * day)
        #expect(try view(network.acme).terminatesOn == given.adding(days: 30), "initech has not agreed yet")
        let initechAgrees = try network.initech.edit(agreement, [.agreeTermination(reason: "fine")], at: t + 3 * day)
        try exchange([initechAgrees], at: t + 3 * day)
        #expect(try view(network.acme).terminatesOn == CalendarDate(unixMillis: t + 3 * day))
    }

    @Test("a void made without seeing a concurrent approval does not end the approved agreement; a void seen alone leaves only notes")
    mutating func voidConcurrentWithApproval() throws {
        let void = try network.acme.edit(agreement, [.void(reason: "duplicate")], at: t + 10)
        let approval = try network.globex.edit(agreement, [try network.globex.approval(of: agreement)], at: t + 10)
        try exchange([void, approval], at: t + 11)
        #expect(try view(network.globex).void == nil)
        #expect(try view(network.globex).status(on: CalendarDate(unixMillis: t)) == .proposed)
        let edit = try network.acme.edit(agreement, [.set(.title, .text("renamed"))], at: t + 12)
        #expect(network.globex.receive(edit, at: t + 13).outcome == .accepted, "the void does not count: editing goes on")
        // Without an approval anywhere, a void ends it: after seeing it, notes only.
        var fresh = ThreeCompanies()
        let draft = try fresh.acme.create(ThreeCompanies.genesisEdits, at: t)
        fresh.globex.receive(draft, at: t)
        let voided = try fresh.acme.edit(draft.change.agreement, [.void(reason: "duplicate")], at: t + 1)
        fresh.globex.receive(voided, at: t + 1)
        #expect(fresh.globex.replica[draft.change.agreement]?.agreement.status(on: CalendarDate(unixMillis: t)) == .void)
        let late = try fresh.globex.craft(draft.change.agreement, [.set(.title, .text("renamed"))], at: t + 2)
        #expect(fresh.acme.receive(late, at: t + 3).outcome == .rejected(ChangeRejection(.editAfterVoid, "")))
        let note = try fresh.globex.edit(draft.change.agreement, [.note("why?")], at: t + 4)
        #expect(fresh.acme.receive(note, at: t + 5).outcome == .accepted)
    }

    @Test("the owing party cannot settle its own side by moving the commitment to another party and back: its waiver counts for nothing")
    mutating func sideChangedAndBack() throws {
        let edits: [[Edit]] = [
            [.set(.commitment(subsidy, .by), .organisation("acme"))],
            [.progress(subsidy, period: nil, step: .waive, text: "")],
            [.set(.commitment(subsidy, .by), .organisation("globex"))],
        ]
        var changes: [VerifiedChange] = []
        for (index, edit) in edits.enumerated() { changes.append(try network.globex.edit(agreement, edit, at: t + 10 + UInt64(index))) }
        try exchange(changes, at: t + 20)
        #expect(try view(network.acme).commitments[0].state == .open, "globex's waiver was made while acme owed it")
        // And the rules read it the same way: globex may claim (it is not waived for them either).
        let claim = try network.globex.edit(agreement, [.progress(subsidy, period: nil, step: .claim, text: "paid")], at: t + 21)
        #expect(network.acme.receive(claim, at: t + 22).outcome == .accepted)
    }

    @Test("a party cannot shorten the notice it gives: clearing the notice period first still leaves the longest one written")
    mutating func noticeCannotBeDodged() throws {
        let clear = try network.acme.edit(agreement, [.set(.noticePeriod, .days(nil))], at: t + 10)
        let terminate = try network.acme.edit(agreement, [.terminate(reason: "now")], at: t + 11)
        try exchange([clear, terminate], at: t + 12)
        #expect(try view(network.globex).terminatesOn == CalendarDate(unixMillis: t + 11).adding(days: 30))
    }

    @Test("two removals in one change may not leave fewer than two parties; a version-1 'fulfilled' by the owing party is its claim, which a party owed confirms")
    mutating func removalsAndLegacy() throws {
        let byGlobex = try network.globex.edit(agreement, [.consentToRemoval("initech")], at: t + 10)
        let byInitech = try network.initech.edit(agreement, [.consentToRemoval("globex")], at: t + 10)
        try exchange([byGlobex, byInitech], at: t + 11)
        let both = try network.acme.craft(agreement, [.removeParty("globex"), .removeParty("initech")], at: t + 12)
        #expect(network.globex.receive(both, at: t + 13).outcome == .rejected(ChangeRejection(.removalRefused, "")))
        let legacy = try network.globex.edit(agreement, [.set(.commitment(subsidy, .state), .commitmentState(.fulfilled))], at: t + 14)
        try exchange([legacy], at: t + 15)
        #expect(try view(network.acme).commitments[0].state == .claimed)
        let confirm = try network.acme.edit(agreement, [.progress(subsidy, period: nil, step: .confirm, text: "")], at: t + 16)
        try exchange([confirm], at: t + 17)
        #expect(try view(network.initech).commitments[0].state == .fulfilled)
    }
}
