import AccordCrypto
import AccordModel
import AccordTestSupport
import Testing

@Suite("Merge semantics")
struct MergeTests {
    var network = ThreeCompanies()
    let genesis: VerifiedChange
    let agreement: AgreementID
    let t = ThreeCompanies.start

    init() throws {
        genesis = try network.acme.create(ThreeCompanies.genesisEdits, at: t)
        agreement = genesis.change.agreement
        network.globex.receive(genesis, at: t)
    }

    func view(_ node: TestNode) throws -> Agreement { try #require(node.replica[agreement]).agreement }

    @Test("concurrent writes to one field: the later stamp wins everywhere, the other is kept as a conflict")
    mutating func concurrentWrites() throws {
        let fromAcme = try network.acme.edit(agreement, [.set(.title, .text("Acme's title"))], at: t + 10)
        let fromGlobex = try network.globex.edit(agreement, [.set(.title, .text("Globex's title"))], at: t + 20)
        network.acme.receive(fromGlobex, at: t + 30)
        network.globex.receive(fromAcme, at: t + 30)
        for node in [network.acme, network.globex] {
            let agreement = try view(node)
            #expect(agreement.title == "Globex's title")
            let conflict = try #require(agreement.conflicts.first)
            #expect(conflict.field == .title)
            #expect(conflict.winner.author == network.globex.id)
            #expect(conflict.overruled.map(\.value) == [.text("Acme's title")])
        }
        #expect(try view(network.acme) == view(network.globex))

        // A write made after seeing both settles the conflict.
        let settle = try network.acme.edit(agreement, [.set(.title, .text("Joint title"))], at: t + 40)
        network.globex.receive(settle, at: t + 40)
        #expect(try view(network.globex).conflicts.isEmpty)
        #expect(try view(network.globex).title == "Joint title")
    }

    @Test("two concurrent changes with equal stamps (a restored or hostile node): the same winner whatever the order they arrive in")
    mutating func equalStamps() throws {
        // Both on the genesis, stamped alike by acme: only their change ids tell them apart.
        let stamp = Stamp(millis: t + 10, counter: 0, node: network.acme.id)
        func crafted(_ edits: [Edit]) throws -> VerifiedChange {
            try network.acme.signer.sign(Change(agreement: agreement, stamp: stamp, dependencies: [genesis.id], edits: edits))
        }
        let first = try crafted([.set(.title, .text("One")), .terminate(reason: "one")])
        let second = try crafted([.set(.title, .text("Two")), .terminate(reason: "two")])
        var forward = ThreeCompanies().globex
        var backward = ThreeCompanies().globex
        for change in [genesis, first, second] { forward.receive(change, at: t + 20) }
        for change in [genesis, second, first] { backward.receive(change, at: t + 20) }
        let winner = try #require(forward.replica[agreement]).agreement
        #expect(winner == (try #require(backward.replica[agreement]).agreement))
        #expect(
            try #require(forward.replica[agreement]).state.canonicalEncoding == (try #require(backward.replica[agreement]).state.canonicalEncoding)
        )
        let expected = max(first.id, second.id) == first.id ? "One" : "Two"
        #expect(winner.title == expected, "the greater change id wins a register among equal stamps")
        #expect(winner.termination?.change == min(first.id, second.id), "the smaller change id is the earlier termination")
    }

    @Test("concurrent edits of different fields both survive, with no conflict")
    mutating func differentFields() throws {
        let a = try network.acme.edit(agreement, [.set(.framework(.dataProtection), .text("GDPR art. 28"))], at: t + 10)
        let g = try network.globex.edit(agreement, [.set(.framework(.technicalFit), .text("CUDA 12"))], at: t + 10)
        network.acme.receive(g, at: t + 20)
        network.globex.receive(a, at: t + 20)
        let merged = try view(network.acme)
        #expect(merged.framework[.dataProtection] == "GDPR art. 28")
        #expect(merged.framework[.technicalFit] == "CUDA 12")
        #expect(merged.conflicts.isEmpty)
        #expect(try view(network.globex) == merged)
    }

    @Test("a party added concurrently with its withdrawal stays (add-wins)")
    mutating func addWinsParties() throws {
        let addInitech = try network.acme.edit(agreement, [.addParty("initech")], at: t + 5)
        network.initech.receive(genesis, at: t + 5)
        network.initech.receive(addInitech, at: t + 5)
        let withdraw = try network.initech.edit(agreement, [.withdrawParty("initech")], at: t + 10)
        let readd = try network.acme.edit(agreement, [.addParty("initech"), .note("please stay")], at: t + 10)
        network.acme.receive(withdraw, at: t + 20)
        network.initech.receive(readd, at: t + 20)
        #expect(try view(network.acme).parties == ["acme", "globex", "initech"])
        #expect(try view(network.initech).parties == ["acme", "globex", "initech"])

        // A withdrawal that has seen every add removes the party.
        let final = try network.initech.edit(agreement, [.withdrawParty("initech")], at: t + 30)
        network.acme.receive(final, at: t + 30)
        #expect(try view(network.acme).parties == ["acme", "globex"])
    }

    @Test("an edit concurrent with a termination is kept; the earliest of concurrent terminations wins")
    mutating func concurrentTermination() throws {
        let terminate = try network.acme.edit(agreement, [.terminate(reason: "budget cut")], at: t + 10)
        let edit = try network.globex.edit(agreement, [.set(.title, .text("Concurrent title"))], at: t + 11)
        let otherTermination = try network.globex.edit(agreement, [.terminate(reason: "merger")], at: t + 12)
        #expect(network.acme.receive(edit, at: t + 20).outcome == .accepted)
        #expect(network.acme.receive(otherTermination, at: t + 20).outcome == .accepted)
        network.globex.receive(terminate, at: t + 20)
        for node in [network.acme, network.globex] {
            let agreement = try view(node)
            #expect(agreement.title == "Concurrent title")
            #expect(agreement.termination?.reason == "budget cut")
            #expect(agreement.status(on: CalendarDate(unixMillis: t)) == .terminated)
        }
    }

    @Test("notes accumulate in stamp order on every node")
    mutating func notes() throws {
        let first = try network.acme.edit(agreement, [.note("kick-off on Monday")], at: t + 10)
        let second = try network.globex.edit(agreement, [.note("agenda attached"), .note("and minutes")], at: t + 5)
        network.acme.receive(second, at: t + 20)
        network.globex.receive(first, at: t + 20)
        #expect(try view(network.acme).notes.map(\.text) == ["agenda attached", "and minutes", "kick-off on Monday"])
        #expect(try view(network.acme) == view(network.globex))
    }

    @Test("a commitment edited concurrently with its removal stays; a removal that saw every edit removes it")
    mutating func commitments() throws {
        let id = CommitmentID.random()
        let create = try network.acme.edit(agreement, [
            .set(.commitment(id, .by), .organisation("acme")),
            .set(.commitment(id, .kind), .commitmentKind(.freeResource)),
            .set(.commitment(id, .description), .text("200 GPU hours a month")),
        ], at: t + 10)
        network.globex.receive(create, at: t + 10)
        let remove = try network.acme.edit(agreement, [.removeCommitment(id)], at: t + 20)
        let fulfil = try network.globex.edit(agreement, [.set(.commitment(id, .state), .commitmentState(.fulfilled))], at: t + 20)
        network.acme.receive(fulfil, at: t + 30)
        network.globex.receive(remove, at: t + 30)
        let commitment = try #require(try view(network.acme).commitments.first)
        #expect(commitment.state == .fulfilled)
        #expect(commitment.description == "200 GPU hours a month")
        #expect(try view(network.acme) == view(network.globex))

        let removeAgain = try network.globex.edit(agreement, [.removeCommitment(id)], at: t + 40)
        network.acme.receive(removeAgain, at: t + 40)
        #expect(try view(network.acme).commitments.isEmpty)
    }
}

@Suite("Held changes")
struct HeldChangeTests {
    var network = ThreeCompanies()
    let t = ThreeCompanies.start

    @Test("a change whose dependencies have not arrived is held, then applied when they arrive")
    mutating func missingDependencies() throws {
        let genesis = try network.acme.create(ThreeCompanies.genesisEdits, at: t)
        let edit = try network.acme.edit(genesis.change.agreement, [.set(.title, .text("v2"))], at: t + 1)
        let later = try network.acme.edit(genesis.change.agreement, [.note("n")], at: t + 2)

        #expect(network.globex.receive(later, at: t + 3).outcome == .held(.missingDependencies([edit.id])))
        #expect(network.globex.receive(edit, at: t + 3).outcome == .held(.missingDependencies([genesis.id])))
        #expect(network.globex.receive(later, at: t + 3).outcome == .duplicate)
        let result = network.globex.receive(genesis, at: t + 3)
        #expect(result.outcome == .accepted)
        #expect(result.settled.map(\.change.id) == [genesis.id, edit.id, later.id])
        let replica = try #require(network.globex.replica[genesis.change.agreement])
        #expect(replica.held.isEmpty)
        #expect(replica.state.canonicalEncoding == network.acme.replica[genesis.change.agreement]?.state.canonicalEncoding)
    }

    @Test("a change stamped beyond the allowed skew is held, not rejected, until the clock catches up")
    mutating func clockSkew() throws {
        let genesis = try network.acme.create(ThreeCompanies.genesisEdits, at: t)
        network.globex.receive(genesis, at: t)
        let tenMinutes: UInt64 = 600_000
        let future = try network.acme.edit(genesis.change.agreement, [.set(.title, .text("from the future"))], at: t + tenMinutes)
        let dependent = try network.acme.edit(genesis.change.agreement, [.note("after it")], at: t + tenMinutes + 1)

        #expect(network.globex.receive(future, at: t).outcome == .held(.stampedAhead(byMillis: tenMinutes)))
        #expect(network.globex.receive(dependent, at: t).outcome == .held(.missingDependencies([future.id])))
        #expect(network.globex.replica.releaseHeld(nowMillis: t + 1_000).isEmpty)
        #expect(network.globex.replica[genesis.change.agreement]?.agreement.title == "Shared GPU cluster")

        let released = network.globex.replica.releaseHeld(nowMillis: t + tenMinutes - 30_000)
        #expect(released.map(\.verdict) == [.accepted, .accepted])
        #expect(network.globex.replica[genesis.change.agreement]?.agreement.title == "from the future")
    }

    @Test("a replica holds a bounded number of changes and defers the rest without recording them")
    mutating func boundedHolding() throws {
        let genesis = try network.acme.create(ThreeCompanies.genesisEdits, at: t)
        var receiver = Replica(configuration: ReplicaConfiguration(maximumClockSkewMillis: 0, maximumHeldChanges: 2))
        var outcomes: [ApplyOutcome] = []
        for offset in 1...3 {
            let ahead = try network.acme.edit(genesis.change.agreement, [.note("\(offset)")], at: t + UInt64(offset) * 1000)
            outcomes.append(receiver.apply(ahead, nowMillis: t).outcome)
        }
        #expect(outcomes.filter { if case .held = $0 { true } else { false } }.count == 2)
        #expect(outcomes.last == .deferred)
        #expect(receiver[genesis.change.agreement]?.held.count == 2)
    }
}

@Suite("Derived status")
struct StatusTests {
    var network = ThreeCompanies()
    let genesis: VerifiedChange
    let agreement: AgreementID
    let t = ThreeCompanies.start
    var today: CalendarDate { CalendarDate(unixMillis: t) }

    init() throws {
        genesis = try network.acme.create(ThreeCompanies.genesisEdits, at: t)
        agreement = genesis.change.agreement
        network.globex.receive(genesis, at: t)
    }

    func status(of node: TestNode) throws -> AgreementStatus { try #require(node.replica[agreement]).agreement.status(on: today) }

    mutating func approveOnBoth() throws {
        let acmeApproval = try network.acme.edit(agreement, [try network.acme.approval(of: agreement)], at: t + 10)
        network.globex.receive(acmeApproval, at: t + 10)
        let globexApproval = try network.globex.edit(agreement, [try network.globex.approval(of: agreement)], at: t + 20)
        network.acme.receive(globexApproval, at: t + 20)
    }

    @Test("draft, then proposed with one approval, then active with every party's")
    mutating func lifecycle() throws {
        #expect(try status(of: network.acme) == .draft)
        let acmeApproval = try network.acme.edit(agreement, [try network.acme.approval(of: agreement)], at: t + 10)
        #expect(try status(of: network.acme) == .proposed)
        network.globex.receive(acmeApproval, at: t + 10)
        let globexApproval = try network.globex.edit(agreement, [try network.globex.approval(of: agreement)], at: t + 20)
        network.acme.receive(globexApproval, at: t + 20)
        #expect(try status(of: network.acme) == .active)
        #expect(try status(of: network.globex) == .active)
    }

    @Test("editing the terms after approval makes approvals stale and the agreement proposed again")
    mutating func staleApprovals() throws {
        try approveOnBoth()
        let edit = try network.globex.edit(agreement, [.set(.framework(.returnMechanism), .text("50/50 revenue share"))], at: t + 30)
        network.acme.receive(edit, at: t + 30)
        let view = try #require(network.acme.replica[agreement]).agreement
        #expect(view.approvals.values.allSatisfy { !$0.isFresh })
        #expect(view.status(on: today) == .proposed)
    }

    @Test("marking a commitment fulfilled is progress, not a change of terms: approvals stay fresh")
    mutating func commitmentProgressKeepsApprovals() throws {
        let id = CommitmentID.random()
        let create = try network.acme.edit(agreement, [
            .set(.commitment(id, .by), .organisation("globex")),
            .set(.commitment(id, .kind), .commitmentKind(.customerAssistance)),
            .set(.commitment(id, .description), .text("Help Initrode migrate")),
        ], at: t + 5)
        network.globex.receive(create, at: t + 5)
        try approveOnBoth()
        let fulfil = try network.globex.edit(agreement, [.set(.commitment(id, .state), .commitmentState(.fulfilled))], at: t + 30)
        network.acme.receive(fulfil, at: t + 30)
        #expect(try status(of: network.acme) == .active)
    }

    @Test("an agreement past its expiry date is expired; terminated overrides everything")
    mutating func expiredAndTerminated() throws {
        let expiry = try network.acme.edit(agreement, [.set(.expiresOn, .date(CalendarDate(iso8601: "2026-12-31")))], at: t + 5)
        network.globex.receive(expiry, at: t + 5)
        try approveOnBoth()
        let view = try #require(network.acme.replica[agreement]).agreement
        #expect(view.status(on: CalendarDate(iso8601: "2026-12-31")!) == .active)
        #expect(view.status(on: CalendarDate(iso8601: "2027-01-01")!) == .expired)

        _ = try network.acme.edit(agreement, [.terminate(reason: "done")], at: t + 40)
        #expect(try status(of: network.acme) == .terminated)
    }

    @Test("an approval by an organisation that later withdrew no longer counts")
    mutating func withdrawnApprover() throws {
        let addInitech = try network.acme.edit(agreement, [.addParty("initech")], at: t + 5)
        network.initech.receive(genesis, at: t + 5)
        network.initech.receive(addInitech, at: t + 5)
        let approval = try network.initech.edit(agreement, [try network.initech.approval(of: agreement)], at: t + 10)
        network.acme.receive(approval, at: t + 10)
        #expect(try status(of: network.acme) == .proposed)
        let withdrawal = try network.initech.edit(agreement, [.withdrawParty("initech")], at: t + 20)
        network.acme.receive(withdrawal, at: t + 20)
        let view = try #require(network.acme.replica[agreement]).agreement
        #expect(view.parties == ["acme", "globex"])
        #expect(view.approvals.isEmpty)
        #expect(view.status(on: today) == .draft)
    }
}

@Suite("Hybrid logical clock")
struct ClockTests {
    let node = NodeID(organisation: "acme", name: "n1")!

    @Test("stamps increase even when the physical clock stands still or goes back")
    func monotonic() {
        var clock = HybridLogicalClock(node: node)
        let a = clock.stamp(physicalMillis: 1000)
        let b = clock.stamp(physicalMillis: 1000)
        let c = clock.stamp(physicalMillis: 900)
        let d = clock.stamp(physicalMillis: 2000)
        #expect(a < b && b < c && c < d)
        #expect(c.millis == 1000 && c.counter == 2)
        #expect(d.millis == 2000 && d.counter == 0)
    }

    @Test("after observing a stamp from elsewhere, the next stamp orders after it")
    func observe() {
        var clock = HybridLogicalClock(node: node)
        let remote = Stamp(millis: 5000, counter: 7, node: NodeID(organisation: "globex", name: "g1")!)
        clock.observe(remote)
        let next = clock.stamp(physicalMillis: 1000)
        #expect(next > remote)
        #expect(next.millis == 5000 && next.counter == 8)
    }

    @Test("equal times are ordered by node, so the order is total")
    func tieBreak() {
        let a = Stamp(millis: 1, counter: 0, node: NodeID(organisation: "acme", name: "n1")!)
        let b = Stamp(millis: 1, counter: 0, node: NodeID(organisation: "acme", name: "n2")!)
        #expect(a < b && !(b < a) && a != b)
    }
}
