import AccordAdminAPI
import AccordCrypto
@testable import AccordDaemon
import AccordModel
import AccordStore
import AccordTestSupport
import Foundation
import NIOConcurrencyHelpers
import Testing

/// The event hub's bounds and resumption, and the events a store's commits turn into.
@Suite("Event stream: hub and derivation")
struct EventTests {
    static func event(_ kind: NodeEvent.Kind = .noteAdded, agreement: String? = "a") -> NodeEvent {
        NodeEvent(type: kind, agreement: agreement)
    }

    @Test("events get RUN.SEQUENCE ids; a subscriber resuming after an id is replayed exactly what followed it")
    func resume() async throws {
        let hub = EventHub(run: 77)
        hub.publish((0..<5).map { _ in Self.event() }, atMillis: ThreeCompanies.start)
        #expect(hub.latestID == "77.5")
        let resumed = try hub.subscribe(since: "77.3")
        #expect(await resumed.next()?.id == "77.4")
        #expect(await resumed.next()?.id == "77.5")
        hub.publish([Self.event()], atMillis: ThreeCompanies.start)
        let live = await resumed.next()
        #expect(live?.id == "77.6" && live?.at == AdminAPI.timestamp(millis: ThreeCompanies.start))
        resumed.cancel()
        #expect(await resumed.next() == nil, "a cancelled subscription ends")
    }

    @Test("an id of another run, one never published, one the ring no longer keeps, or no id at all: events-lost first, then live events")
    func unresumable() async throws {
        var limits = EventHub.Limits()
        limits.retained = 4
        let hub = EventHub(limits: limits, run: 9)
        hub.publish((0..<10).map { _ in Self.event() }, atMillis: 1)
        for since in ["8.3", "9.11", "9.2", "garbage"] {
            let subscription = try hub.subscribe(since: since)
            let first = await subscription.next()
            #expect(first?.type == .eventsLost, "since \(since)")
            #expect(first?.message?.contains("resync") == true)
            #expect(first?.id == "9.10", "resume after the lost event's id to get what follows")
            subscription.cancel()
        }
        let kept = try hub.subscribe(since: "9.6")
        #expect(await kept.next()?.id == "9.7", "the oldest kept event's predecessor is still a resumable id")
        kept.cancel()
    }

    @Test("a subscriber that does not read gets its queue, then events-lost, then the end; the hub's memory stays bounded and the drop is counted")
    func slowSubscriber() async throws {
        var limits = EventHub.Limits()
        limits.queueCapacity = 8
        let hub = EventHub(limits: limits, run: 1)
        let slow = try hub.subscribe()
        let reader = try hub.subscribe()
        for _ in 0..<100 {
            hub.publish([Self.event()], atMillis: 1)
            #expect(await reader.next() != nil, "a subscriber that keeps up misses nothing")
        }
        var received: [NodeEvent] = []
        while let event = await slow.next() { received.append(event) }
        #expect(received.count == 9)
        #expect(received.prefix(8).map(\.id) == (1...8).map { "1.\($0)" })
        #expect(received.last?.type == .eventsLost && received.last?.message?.contains("fell more than 8 events behind") == true)
        #expect(hub.counts.dropped == 1 && hub.counts.subscribers == 1 && hub.counts.published == 100)
        reader.cancel()
    }

    @Test("subscribers beyond the limit are refused and counted, console tabs apart from the admin socket's; a filtered subscriber sees one agreement's events only")
    func limitsAndFilter() async throws {
        var limits = EventHub.Limits()
        limits.subscribers = 2
        limits.consoleSubscribers = 1
        let hub = EventHub(limits: limits, run: 1)
        let tab = try hub.subscribe(origin: .console)
        #expect(throws: EventHub.Refusal.self) { try hub.subscribe(origin: .console) }
        let one = try hub.subscribe(agreement: "b")
        let two = try hub.subscribe()
        #expect(throws: EventHub.Refusal.self) { try hub.subscribe() }
        #expect(hub.counts.refused == 2, "console tabs and admin subscribers have their own limits")
        tab.cancel()
        hub.publish([Self.event(agreement: "a"), Self.event(.peerConnected, agreement: nil), Self.event(agreement: "b")], atMillis: 1)
        #expect(await one.next()?.id == "1.3")
        #expect(await two.next()?.id == "1.1")
        one.cancel()
        #expect(try hub.subscribe().id > 0, "a cancelled subscription frees its place")
        two.cancel()
    }

    @Test("a waiting reader is woken by the next event", .timeLimit(.minutes(1)))
    func wakesWaiter() async throws {
        let hub = EventHub(run: 1)
        let subscription = try hub.subscribe()
        async let next = subscription.next()
        // Published only once the reader waits: the event must wake it, not be found queued.
        try await eventually("the reader waits") { hub.counts.waiting == 1 }
        hub.publish([Self.event(.changeHeld)], atMillis: 1)
        #expect(await next?.type == .changeHeld)
        subscription.cancel()
    }

    // MARK: - Derivation from a real store's commits

    @Test("events of changes a person made through the node name them: creation, note and approval carry the actor")
    func actorsInEvents() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("accord-events-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let acme = ThreeCompanies().acme.id
        let store = try NodeStore(configuration: StoreConfiguration(directory: folder, node: acme))
        let notices = NIOLockedValueBox<[CommitNotice]>([])
        let observation = store.observeCommits { notice in notices.withLockedValue { $0.append(notice) } }
        defer { observation.cancel() }
        let signer = ChangeSigner(node: acme, key: try P256PrivateKey.generate())
        let alice = try ActingPerson(kind: .person, id: "alice", name: "Alice Chen")
        let now = ThreeCompanies.start
        let created = try await store.author(nil, ThreeCompanies.genesisEdits, signer: signer, actor: alice, nowMillis: now)
        _ = try await store.author(created.agreement, [.note("kick-off")], signer: signer, nowMillis: now + 1)
        let events = notices.withLockedValue { $0 }.flatMap { EventDerivation.events(of: $0, today: CalendarDate(unixMillis: now)) }
        let expected = ActorView(kind: "person", id: "alice", name: "Alice Chen", email: nil)
        #expect(events.first { $0.type == .agreementCreated }?.actor == expected)
        #expect(events.first { $0.type == .noteAdded }.map { $0.actor == nil } == true, "a change attributed to no one names no one")
    }

    @Test("a store's commits become typed events: created, approvals, status, stale approvals, conflict, commitment state, note, termination, held, released, rejected")
    func derivation() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("accord-events-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = try NodeStore(configuration: StoreConfiguration(
            directory: folder, node: ThreeCompanies().acme.id, replica: ReplicaConfiguration(maximumClockSkewMillis: 60_000)
        ))
        let notices = NIOLockedValueBox<[CommitNotice]>([])
        let observation = store.observeCommits { notice in notices.withLockedValue { $0.append(notice) } }
        defer { observation.cancel() }
        var t = ThreeCompanies.start
        func apply(_ changes: VerifiedChange...) async throws -> [NodeEvent] {
            t += 10
            notices.withLockedValue { $0 = [] }
            _ = try await store.apply(changes, nowMillis: t)
            return notices.withLockedValue { $0 }.flatMap { EventDerivation.events(of: $0, today: CalendarDate(unixMillis: t)) }
        }
        func kinds(_ events: [NodeEvent]) -> [NodeEvent.Kind] { events.map(\.type) }

        var network = ThreeCompanies()
        let genesis = try network.acme.create(ThreeCompanies.genesisEdits, at: t)
        let id = genesis.change.agreement
        network.globex.receive(genesis, at: t)
        network.initech.receive(genesis, at: t)
        let created = try await apply(genesis)
        #expect(kinds(created) == [.agreementCreated])
        #expect(created.first?.title == "Shared GPU cluster" && created.first?.organisations == ["acme", "globex"])

        let acmeApproves = try network.acme.edit(id, [try network.acme.approval(of: id)], at: t)
        let globexApproves = try network.globex.edit(id, [try network.globex.approval(of: id)], at: t)
        network.acme.receive(globexApproves, at: t)
        network.globex.receive(acmeApproves, at: t)
        let approved = try await apply(acmeApproves, globexApproves)
        #expect(kinds(approved) == [.approvalGiven, .approvalGiven, .statusChanged])
        #expect(Set(approved.prefix(2).compactMap(\.organisation)) == ["acme", "globex"])
        #expect(approved.last?.to == "active")

        // globex changes the terms: both approvals go stale, the status falls back.
        let reworded = try network.globex.edit(id, [.set(.framework(.technicalFit), .text("Acme hosts, Globex operates"))], at: t)
        network.acme.receive(reworded, at: t)
        let stale = try await apply(reworded)
        #expect(kinds(stale) == [.agreementChanged, .approvalsStale, .statusChanged])
        #expect(stale[0].fields == ["framework.technicalFit"] && stale[0].by == network.globex.id.description)
        #expect(stale[1].organisations == ["acme", "globex"])
        #expect(stale[2].from == "active")

        // Concurrent titles: one wins, the other is overruled, and the conflict is announced.
        let mine = try network.acme.edit(id, [.set(.title, .text("Acme's title"))], at: t)
        let theirs = try network.globex.edit(id, [.set(.title, .text("Globex's title"))], at: t + 1)
        let conflicting = try await apply(mine, theirs)
        #expect(kinds(conflicting) == [.agreementChanged, .conflictOpened])
        #expect(conflicting[1].field == "title" && conflicting[1].overruled?.count == 1)

        let commitment = CommitmentID(UUIDBytes(high: 7, low: 7))
        let promised = try network.acme.edit(id, [
            .set(.commitment(commitment, .by), .organisation("acme")), .set(.commitment(commitment, .kind), .commitmentKind(.freeResource)),
            .set(.commitment(commitment, .description), .text("2,000 GPU hours")),
        ], at: t)
        let kept = try network.acme.edit(id, [.set(.commitment(commitment, .state), .commitmentState(.fulfilled))], at: t)
        let fulfilled = try await apply(promised, kept)
        #expect(kinds(fulfilled).contains(.commitmentStateChanged))
        #expect(fulfilled.first { $0.type == .commitmentStateChanged }.map { [$0.commitment, $0.state] } == [commitment.description, "fulfilled"])

        // A note, then a change that builds on one not yet received (held), then the missing one.
        let note = try network.acme.edit(id, [.note("kick-off on Monday")], at: t)
        let terminate = try network.acme.edit(id, [.terminate(reason: "merged into another agreement")], at: t)
        let held = try await apply(terminate)
        #expect(kinds(held) == [.changeHeld])
        let released = try await apply(note)
        for kind in [NodeEvent.Kind.noteAdded, .agreementTerminated, .changeReleased, .statusChanged] {
            #expect(kinds(released).contains(kind), "\(kind) in \(kinds(released))")
        }
        #expect(released.first { $0.type == .statusChanged }?.to == "terminated")

        // initech is no party: its change is rejected with the rule it broke.
        let intruder = try network.initech.craft(id, [.note("let me in")], at: t)
        let rejected = try await apply(intruder)
        #expect(kinds(rejected) == [.changeRejected])
        #expect(rejected.first?.rule?.isEmpty == false && rejected.first?.change == intruder.id.hex)
        await store.close()
    }
}
