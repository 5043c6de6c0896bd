import AccordCrypto
import AccordModel
import AccordStore
import AccordTestSupport
import Foundation
import Testing

@Suite("Node store")
struct NodeStoreTests {
    let t = StoreFixtures.start
    var today: CalendarDate { CalendarDate(unixMillis: t) }

    @Test("a locally authored agreement is durable, listed, and survives reopening")
    func authorAndReopen() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let agreement: AgreementID
        do {
            let store = try StoreFixtures.open(directory.path)
            let genesis = try await store.author(nil, StoreFixtures.genesis("GPU pool"), signer: StoreFixtures.acmeSigner, nowMillis: t)
            agreement = genesis.agreement
            #expect(genesis.sequence == 1)
            let edit = try await store.author(agreement, [.set(.title, .text("GPU pool v2"))], signer: StoreFixtures.acmeSigner, nowMillis: t + 1)
            #expect(edit.sequence == 2)
            await store.close()
        }
        let store = try StoreFixtures.open(directory.path)
        let listed = try await store.agreements(today: today)
        #expect(listed.map(\.id) == [agreement])
        #expect(listed.first?.title == "GPU pool v2")
        #expect(listed.first?.parties == ["acme", "globex"])
        #expect(listed.first?.status == .draft)
        #expect(listed.first?.changeCount == 2)
        let history = try await store.history(of: agreement)
        #expect(history.map(\.sequence) == [1, 2])
        // The node's clock continues after the last stamp it issued, even across a restart.
        let next = try await store.author(agreement, [.note("after restart")], signer: StoreFixtures.acmeSigner, nowMillis: t - 10_000)
        #expect(next.stamp > history.last!.change.stamp)
        #expect(try await store.checkConsistency().isConsistent)
        await store.close()
    }

    @Test("a read that stops at its first row leaves no snapshot open: the next read sees what was written in between")
    func readsSeeLaterWrites() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        let imported = try await store.importMany([("crm-1", StoreFixtures.genesis("Imported"))], signer: StoreFixtures.acmeSigner, nowMillis: t)
        guard case .created(let first)? = imported.first else { throw TestFailure("not created: \(imported)") }
        // One-row queries, each stepped once: a statement left mid-result kept its read snapshot.
        #expect(try await store.agreement(importedAs: "crm-1") == first.agreement)
        #expect(try await store.importReference(of: first.agreement) == "crm-1")
        let second = try await store.author(nil, StoreFixtures.genesis("Made after"), signer: StoreFixtures.acmeSigner, nowMillis: t + 1)
        #expect(Set(try await store.agreements(today: today).map(\.id)) == [first.agreement, second.agreement])
        await store.close()
    }

    @Test("applying the same changes again is a no-op reported as duplicate")
    func idempotence() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var network = ThreeCompanies()
        let genesis = try network.globex.create(StoreFixtures.genesis("Shared support desk"), at: t)
        let edit = try network.globex.edit(genesis.change.agreement, [.note("hello")], at: t + 1)
        let store = try StoreFixtures.open(directory.path)
        let first = try await store.apply([genesis, edit], nowMillis: t + 2)
        #expect(first.outcomes == [.accepted, .accepted])
        #expect(first.accepted.map(\.sequence) == [1, 2])
        let again = try await store.apply([edit, genesis, edit], nowMillis: t + 3)
        #expect(again.outcomes == [.duplicate, .duplicate, .duplicate])
        #expect(again.accepted.isEmpty)
        #expect(try await store.counts().changes == 2)
        await store.close()
    }

    @Test("a change from a non-party is rejected durably with its reason; held changes persist and are released")
    func rejectedAndHeld() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var network = ThreeCompanies()
        let genesis = try network.globex.create(StoreFixtures.genesis("Consulting"), at: t)
        let agreement = genesis.change.agreement
        network.initech.receive(genesis, at: t)
        let intruder = try network.initech.craft(agreement, [.set(.title, .text("mine"))], at: t + 1)
        let later = try network.globex.edit(agreement, [.note("kick-off")], at: t + 2)
        let future = try network.globex.edit(agreement, [.note("from the future")], at: t + 600_000)

        do {
            let store = try StoreFixtures.open(directory.path)
            let early = try await store.apply([later, future], nowMillis: t + 3)
            #expect(early.outcomes.map { if case .held = $0 { true } else { false } } == [true, true])
            await store.close()
        }
        let store = try StoreFixtures.open(directory.path)
        #expect(try await store.verdict(of: later.id) == .held)
        let report = try await store.apply([genesis, intruder], nowMillis: t + 4)
        #expect(report.outcomes.first == .accepted)
        #expect(report.outcomes.last == .rejected(ChangeRejection(.authorNotParty, "")))
        // The genesis released `later`; `future` still waits for the clock.
        #expect(report.accepted.map(\.change.id) == [genesis.id, later.id])
        #expect(try await store.verdict(of: intruder.id) == .rejected)
        #expect(try await store.verdict(of: future.id) == .held)

        let detail = try #require(try await store.agreement(agreement))
        #expect(detail.rejected.map(\.rejection.code) == [.authorNotParty])
        #expect(detail.held.map(\.id) == [future.id])

        let released = try await store.releaseHeld(nowMillis: t + 600_000)
        #expect(released.accepted.map(\.change.id) == [future.id])
        #expect(try await store.agreement(agreement)?.held.isEmpty == true)
        #expect(try await store.checkConsistency().isConsistent)
        await store.close()
    }

    @Test("a party added later delivers the history before its addition in one batch; without the addition in the batch it is refused")
    func deliveredByAPartyAddedLater() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var network = ThreeCompanies()
        // initech's node holds the agreement of globex and initech as it was at its creation.
        let genesis = try network.globex.create(StoreFixtures.genesis("Two parties", parties: ["globex", "initech"]), at: t)
        let store = try StoreFixtures.open(directory.path, node: StoreFixtures.initechSigner.node)
        _ = try await store.apply([genesis], nowMillis: t)
        // Meanwhile globex edits, then adds acme; acme gets the history and edits too.
        let title = try network.globex.edit(genesis.change.agreement, [.set(.title, .text("Three parties"))], at: t + 10)
        let addAcme = try network.globex.edit(genesis.change.agreement, [.addParty("acme")], at: t + 20)
        for change in [genesis, title, addAcme] { network.acme.receive(change, at: t + 20) }
        let note = try network.acme.edit(genesis.change.agreement, [.note("from acme")], at: t + 30)
        let acme = network.acme.id

        // Without the change that adds acme, acme is no party: refused, nothing stored.
        let alone = try await store.receive([title], refused: [], from: acme, nowMillis: t + 40)
        guard case .rejected(let refusal)? = alone.outcomes.first else { throw TestFailure("not refused: \(alone.outcomes)") }
        #expect(refusal.code == .deliveredByNonParty)
        #expect(try await store.history(of: genesis.change.agreement).count == 1)

        // With it, the whole batch is acme's to deliver (each change judged once the batch showed
        // acme a party): judged one by one, the title edit was refused and so, for ever, the rest.
        let batch = try await store.receive([title, addAcme, note], refused: [], from: acme, nowMillis: t + 40)
        #expect(batch.outcomes == [.accepted, .accepted, .accepted])
        #expect(try await store.history(of: genesis.change.agreement).count == 4)
        await store.close()
    }

    @Test("a party that joined and withdrew within one transaction (a rebuilt node's catch-up) is owed the log up to its withdrawal, and nothing after it; so is one that withdrew in a transaction with later changes")
    func formerPartyWithinOneTransaction() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var network = ThreeCompanies()
        let genesis = try network.acme.create(StoreFixtures.genesis("Three parties", parties: ["acme", "globex", "initech"]), at: t)
        network.globex.receive(genesis, at: t)
        let withdrawal = try network.globex.edit(genesis.change.agreement, [.withdrawParty("globex")], at: t + 10)
        network.acme.receive(withdrawal, at: t + 10)
        let after = try network.acme.edit(genesis.change.agreement, [.note("after globex left")], at: t + 20)

        let store = try StoreFixtures.open(directory.path)
        _ = try await store.apply([genesis, withdrawal, after], nowMillis: t + 30)
        let owed = try await store.logs(of: [genesis.change.agreement], sharedWith: "globex")
        #expect(owed[genesis.change.agreement]?.map(\.change.id) == [genesis.id, withdrawal.id])
        #expect(try await store.logs(of: [genesis.change.agreement], sharedWith: "initech")[genesis.change.agreement]?.count == 3)
        await store.close()

        // A party before the transaction whose withdrawal and a later change arrive together:
        // owed up to the withdrawal, not up to the transaction's last change.
        let second = try TemporaryDirectory()
        defer { second.remove() }
        let other = try StoreFixtures.open(second.path)
        _ = try await other.apply([genesis], nowMillis: t + 30)
        _ = try await other.apply([withdrawal, after], nowMillis: t + 30)
        let owedThere = try await other.logs(of: [genesis.change.agreement], sharedWith: "globex")
        #expect(owedThere[genesis.change.agreement]?.map(\.change.id) == [genesis.id, withdrawal.id])
        await other.close()
    }

    @Test("a locally authored change the rules refuse leaves no trace")
    func refusedLocalChange() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        let genesis = try await store.author(nil, StoreFixtures.genesis("X"), signer: StoreFixtures.acmeSigner, nowMillis: t)
        await #expect(throws: ChangeRejection.self) {
            try await store.author(genesis.agreement, [.withdrawParty("globex")], signer: StoreFixtures.acmeSigner, nowMillis: t + 1)
        }
        await #expect(throws: ChangeRejection.self) {
            try await store.author(nil, StoreFixtures.genesis("Y", parties: ["acme"]), signer: StoreFixtures.acmeSigner, nowMillis: t + 1)
        }
        #expect(try await store.counts() == (1, 1, 0, 0))
        await store.close()
    }

    @Test("listings filter by party and by derived status")
    func listings() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        let signer = StoreFixtures.acmeSigner
        let withGlobex = try await store.author(nil, StoreFixtures.genesis("A", parties: ["acme", "globex"]), signer: signer, nowMillis: t)
        let withInitech = try await store.author(nil, StoreFixtures.genesis("B", parties: ["acme", "initech"]), signer: signer, nowMillis: t)
        let terminated = try await store.author(nil, StoreFixtures.genesis("C", parties: ["acme", "initech"]), signer: signer, nowMillis: t)
        _ = try await store.author(terminated.agreement, [.terminate(reason: "done")], signer: signer, nowMillis: t + 1)
        let id = withGlobex.agreement
        let hash = try #require(try await store.agreement(id)).agreement.termsHash
        let approval = Edit.approve(organisation: "acme", termsHash: hash, signature: try signer.approvalSignature(agreement: id, termsHash: hash))
        _ = try await store.author(id, [approval], signer: signer, nowMillis: t + 2)

        #expect(try await store.agreements(party: "globex", today: today).map(\.id) == [id])
        #expect(Set(try await store.agreements(party: "initech", today: today).map(\.id)) == [withInitech.agreement, terminated.agreement])
        #expect(try await store.agreements(party: "umbrella", today: today).isEmpty)
        #expect(try await store.agreements(status: .proposed, today: today).map(\.id) == [id])
        #expect(try await store.agreements(status: .terminated, today: today).map(\.id) == [terminated.agreement])
        #expect(try await store.agreements(party: "initech", status: .draft, today: today).map(\.id) == [withInitech.agreement])
        await store.close()
    }

    @Test("after the wall clock jumps back by more than the allowed skew, the node still authors: its own stamps, which never go back, are not held as if from the future")
    func authorsAfterClockJumpsBack() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        let hours = UInt64(3_600_000)
        let ahead = try await store.author(nil, StoreFixtures.genesis("ahead"), signer: StoreFixtures.acmeSigner, nowMillis: t + 2 * hours)
        let after = try await store.author(ahead.agreement, [.note("the clock went back")], signer: StoreFixtures.acmeSigner, nowMillis: t)
        #expect(after.stamp > ahead.stamp, "stamps never go back")
        #expect(try await store.counts().held == 0)
        #expect(try await store.history(of: ahead.agreement).count == 2)
        await store.close()
    }

    @Test("an agreement's detail shows who set each field and the open conflicts")
    func provenanceAndConflicts() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var network = ThreeCompanies()
        let genesis = try network.acme.create(StoreFixtures.genesis("Start"), at: t)
        network.globex.receive(genesis, at: t)
        let mine = try network.acme.edit(genesis.change.agreement, [.set(.title, .text("Acme's"))], at: t + 10)
        let theirs = try network.globex.edit(genesis.change.agreement, [.set(.title, .text("Globex's"))], at: t + 20)
        let store = try StoreFixtures.open(directory.path)
        _ = try await store.apply([genesis, theirs, mine], nowMillis: t + 30)
        let detail = try #require(try await store.agreement(genesis.change.agreement))
        #expect(detail.agreement.provenance[.title]?.author == network.globex.id)
        #expect(detail.agreement.provenance[.category]?.author == network.acme.id)
        let conflicts = try await store.conflicts()
        #expect(conflicts[genesis.change.agreement]?.first?.overruled.map(\.value) == [.text("Acme's")])
        #expect(try await store.agreements(today: today).first?.conflictCount == 1)
        await store.close()
    }

    @Test("what a peer lacks covers only agreements its organisation is a party to")
    func needToKnow() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        let signer = StoreFixtures.acmeSigner
        let shared = try await store.author(nil, StoreFixtures.genesis("with globex"), signer: signer, nowMillis: t)
        let secret = try await store.author(nil, StoreFixtures.genesis("with initech", parties: ["acme", "initech"]), signer: signer, nowMillis: t)
        let edit = try await store.author(shared.agreement, [.note("n")], signer: signer, nowMillis: t + 1)

        let forGlobex = try await store.changes(after: 0, for: "globex", limit: 100)
        #expect(forGlobex.map(\.sequence) == [shared.sequence, edit.sequence])
        #expect(!forGlobex.contains { $0.agreement == secret.agreement })
        #expect(try await store.changes(after: shared.sequence, for: "globex", limit: 100).map(\.sequence) == [edit.sequence])
        #expect(try await store.changes(after: 0, for: "globex", limit: 1).count == 1)
        let digests = try await store.headsDigests(sharedWith: "globex")
        #expect(digests.map(\.0) == [shared.agreement])
        await store.close()
    }

    @Test("watchers learn the latest accepted sequence number after each commit, and streams end on close")
    func watching() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        var sequences = store.acceptedSequences().makeAsyncIterator()
        let first = try await store.author(nil, StoreFixtures.genesis("watched"), signer: StoreFixtures.acmeSigner, nowMillis: t)
        #expect(await sequences.next() == first.sequence)
        // Several commits while nobody reads: the watcher keeps only the newest.
        var last: Int64 = 0
        for index in 0..<5 {
            last = try await store.author(first.agreement, [.note("\(index)")], signer: StoreFixtures.acmeSigner, nowMillis: t + 1).sequence
        }
        #expect(await sequences.next() == last)
        await store.close()
        #expect(await sequences.next() == nil)
    }

    @Test("peer state and certificates are recorded")
    func peersAndCertificates() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        let peer = StoreFixtures.globexSigner.node
        try await store.updatePeer(peer, .contact, nowMillis: t)
        try await store.updatePeer(peer, .acknowledged(upTo: 7), nowMillis: t)
        try await store.updatePeer(peer, .acknowledged(upTo: 3), nowMillis: t)
        try await store.updatePeer(peer, .sent(count: 4), nowMillis: t)
        try await store.updatePeer(peer, .received(count: 5, rejected: 1, lastRejection: ChangeRejection(.authorNotParty, "not a party")), nowMillis: t + 5)
        try await store.updatePeer(peer, .received(count: 2, rejected: 0, lastRejection: nil), nowMillis: t + 6)
        let state = try #require(try await store.peers().first)
        #expect(state.node == peer)
        #expect(state.acknowledgedSequence == 7)
        #expect(state.lastContact == t)
        #expect((state.changesSent, state.changesReceived, state.changesRejected) == (4, 7, 1))
        #expect(state.lastRejection?.code == "author-not-party")
        #expect(state.lastRejection?.at == t + 5)
        await store.close()
    }

    @Test("an organisation that withdrew is owed the changes up to its withdrawal, so its other nodes learn of it, and nothing after")
    func formerParty() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let globex = StoreFixtures.globexSigner
        let store = try StoreFixtures.open(directory.path, node: globex.node)
        let created = try await store.author(nil, StoreFixtures.genesis("three", parties: ["acme", "globex", "initech"]), signer: globex, nowMillis: t)
        let agreement = created.agreement
        let before = try await store.author(agreement, [.note("before")], signer: globex, nowMillis: t + 1)
        var clock = HybridLogicalClock(node: StoreFixtures.acmeSigner.node)
        clock.observe(before.stamp)
        let withdrawal = try StoreFixtures.acmeSigner.sign(Change(
            agreement: agreement, stamp: clock.stamp(physicalMillis: t + 2), dependencies: [before.change.id], edits: [.withdrawParty("acme")]
        ))
        _ = try await store.apply([withdrawal], nowMillis: t + 2)
        let after = try await store.author(agreement, [.note("after")], signer: globex, nowMillis: t + 3)

        let forAcme = try await store.changes(after: 0, for: "acme", limit: 100).map(\.change.id)
        #expect(forAcme == [created.change.id, before.change.id, withdrawal.id], "up to and including the withdrawal")
        #expect(!forAcme.contains(after.change.id), "nothing after the withdrawal")
        #expect(try await store.owedChangeCount(after: 0, for: "acme") == 3)
        #expect(try await store.syncSnapshot(sharedWith: "acme").digests.isEmpty, "not reconciled with acme any more")
        #expect(try await store.changes(after: 0, for: "initech", limit: 100).count == 4)

        // Added again: a party again, owed everything.
        _ = try await store.author(agreement, [.addParty("acme")], signer: globex, nowMillis: t + 4)
        #expect(try await store.changes(after: 0, for: "acme", limit: 100).count == 5)
        await store.close()
    }

    @Test("a batch received from a peer is applied and counted in one step; its changes are not pushed back to that peer")
    func receivedBatch() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        let peer = StoreFixtures.globexSigner.node
        var clock = HybridLogicalClock(node: peer)
        let theirs = try StoreFixtures.globexSigner.sign(Change.genesis(stamp: clock.stamp(physicalMillis: t), edits: StoreFixtures.genesis("from globex")))
        let mine = try await store.author(nil, StoreFixtures.genesis("from acme"), signer: StoreFixtures.acmeSigner, nowMillis: t)

        let report = try await store.receive(
            [theirs], refused: [ChangeRejection(.badSignature, "forged")], from: peer, nowMillis: t + 1
        )
        #expect(report.outcomes == [.accepted])
        let state = try #require(try await store.peers().first { $0.node == peer })
        #expect((state.changesReceived, state.changesRejected) == (2, 1))
        #expect(state.lastRejection?.code == "bad-signature")
        #expect(try await store.changes(after: 0, for: "globex", excluding: peer, limit: 10).map(\.sequence) == [mine.sequence])
        #expect(try await store.changes(after: 0, for: "globex", limit: 10).count == 2)
        await store.close()
    }
}
