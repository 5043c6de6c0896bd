import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import AccordTestSupport
import Testing

/// The pure parts a session is made of, and the primitives under it, without sockets.
@Suite("Session parts")
struct SessionPartsTests {
    static let node = NodeID(organisation: "acme", name: "a1")!

    /// A chain of `count` signed changes of one agreement, each on the previous, as a log.
    static func log(_ count: Int, startingAt sequence: Int64 = 1) throws -> [StoredChange] {
        let signer = ChangeSigner(node: node, key: TestKeys.pool[0])
        var clock = HybridLogicalClock(node: node)
        var changes: [StoredChange] = []
        var previous: Change?
        for index in 0..<count {
            let stamp = clock.stamp(physicalMillis: 1_000 + UInt64(index))
            let change = try previous.map { try Change(agreement: $0.agreement, stamp: stamp, dependencies: [$0.id], edits: [.note("\(index)")]) }
                ?? Change.genesis(stamp: stamp, edits: [.addParty("acme"), .addParty("globex")])
            changes.append(StoredChange(sequence: sequence + Int64(index), change: try signer.sign(change)))
            previous = change
        }
        return changes
    }

    @Test("the delivery cursor moves only once a clean round vouches, then with the live stream, never past the stream's start by a round")
    func deliveryCursor() {
        var cursor = DeliveryCursor(acknowledged: 10, streamStart: 100)
        cursor.streamAcknowledged(through: 150)
        #expect(cursor.position == 10, "acknowledgements alone do not vouch for what came before the stream")
        cursor.roundWasClean(snapshot: 120)
        #expect(cursor.position == 150, "a clean round vouches up to the stream's start; the stream carries on")
        cursor.roundWasClean(snapshot: 500)
        #expect(cursor.position == 150, "a round never vouches past the stream's start (a former party's backlog)")
        cursor.streamCaughtUp(through: 170)
        #expect(cursor.position == 170)
    }

    @Test("the send window numbers batches from 0, holds at most its capacity and refuses an acknowledgement of a batch not in flight")
    func sendWindow() throws {
        var window = SendWindow(capacity: 2)
        #expect(window.reserve(.repair) == 0)
        #expect(window.reserve(.stream(through: 7)) == 1)
        #expect(!window.hasRoom && window.isStreaming)
        #expect(try window.acknowledge(1) == .stream(through: 7))
        #expect(window.hasRoom && !window.isStreaming)
        let error = #expect(throws: SessionError.self) { try window.acknowledge(1) }
        #expect(error?.code == .protocolViolation)
    }

    @Test("a round completes only when both lists were compared, the peer's final heads arrived and the outbox is idle")
    func roundCompletion() {
        let agreement = AgreementID(UUIDBytes(high: 1, low: 1))
        let snapshot = SyncSnapshot(sequence: 9, digests: [(agreement, SHA256Digest(hashing: [1]))])
        let started = ContinuousClock.now
        var round = ReconciliationRound(snapshot: snapshot, codedSymbols: true, started: started)
        #expect(round.result(outboxIdle: true, now: started, nowMillis: 0) == nil)
        round.differencesKnown = true
        #expect(round.result(outboxIdle: true, now: started, nowMillis: 0) == nil, "the peer's heads are still to come")
        round.peerHeadsFinal = true
        #expect(round.result(outboxIdle: false, now: started, nowMillis: 0) == nil, "repairs still unacknowledged")
        let result = round.result(outboxIdle: true, now: started + .seconds(2), nowMillis: 42)
        #expect(result == RoundResult(differences: 0, sentWhole: 0, duration: .seconds(2), completedAt: 42))
        round.describedByPeer = [agreement]
        #expect(round.result(outboxIdle: true, now: started, nowMillis: 0)?.isClean == false, "what the peer described is a difference")
    }

    @Test("frame packing keeps batches within their count and bytes, and heads frames within entries and bytes, capping each entry's heads")
    func framePacking() throws {
        let log = try Self.log(10)
        let size = WireMessage.changeEntryBytes(log[1].encoded)
        let batches = FramePacking.batches(of: log, maximumChanges: 4, maximumBytes: WireMessage.changesFrameOverhead + 3 * size + 20)
        #expect(batches == [0..<3, 3..<6, 6..<9, 9..<10])
        #expect(FramePacking.batches(of: log, maximumChanges: 4, maximumBytes: 1) == (0..<10).map { $0..<($0 + 1) }, "one change always fits")
        let many = Array(repeating: SHA256Digest(hashing: [2]), count: WireMessage.maximumHeadsPerAgreement + 5)
        let entries = (0..<3).map { HeadsMessage.Entry(agreement: AgreementID(UUIDBytes(high: UInt64($0), low: 0)), heads: many) }
        let frames = FramePacking.headsFrames(entries, maximumBytes: entries[0].encodedBytes)
        #expect(frames.map(\.count) == [1, 1, 1])
        #expect(frames.allSatisfy { $0[0].heads.count == WireMessage.maximumHeadsPerAgreement })
    }

    @Test("the repair planner sends what the peer's heads do not cover; with an unknown head, nothing it acknowledged")
    func repairPlanner() throws {
        let log = try Self.log(5)
        #expect(RepairPlanner.heads(of: log) == [log[4].change.id])
        #expect(RepairPlanner.changesToSend(log: log, peerHeads: [], acknowledgedThrough: 0) == log)
        #expect(RepairPlanner.changesToSend(log: log, peerHeads: [log[2].change.id], acknowledgedThrough: 0) == Array(log[3...]))
        #expect(RepairPlanner.changesToSend(log: log, peerHeads: [log[4].change.id], acknowledgedThrough: 0).isEmpty)
        let unknown = SHA256Digest(hashing: [9])
        #expect(RepairPlanner.changesToSend(log: log, peerHeads: [unknown], acknowledgedThrough: 3) == Array(log[3...]))
    }

    @Test("of two sessions of a pair, both nodes keep the one dialled by the node that sorts first; a reconnect in the same direction replaces the old one")
    func simultaneousDials() {
        let first = NodeID(organisation: "acme", name: "a1")!
        let second = NodeID(organisation: "globex", name: "g1")!
        // first's outbound session is second's inbound one: the preferred connection.
        #expect(SessionRegistry.keepsExisting(.outbound, over: .inbound, local: first, peer: second))
        #expect(SessionRegistry.keepsExisting(.inbound, over: .outbound, local: second, peer: first))
        #expect(!SessionRegistry.keepsExisting(.inbound, over: .outbound, local: first, peer: second), "the preferred one replaces the other")
        #expect(!SessionRegistry.keepsExisting(.outbound, over: .outbound, local: first, peer: second), "a reconnect replaces a stale session")
        #expect(!SessionRegistry.keepsExisting(.inbound, over: .inbound, local: first, peer: second))
    }

    @Test("reconnect backoff doubles from the lower bound to the upper one, with the jitter between")
    func reconnectBackoff() {
        let backoff = ReconnectBackoff(bounds: .milliseconds(250) ... .seconds(30))
        #expect(backoff.delay(afterFailures: 0, jitter: 1) == .milliseconds(250))
        #expect(backoff.delay(afterFailures: 1, jitter: 1) == .milliseconds(250))
        #expect(backoff.delay(afterFailures: 3, jitter: 1) == .seconds(1))
        #expect(backoff.delay(afterFailures: 3, jitter: 0) == .milliseconds(250))
        #expect(backoff.delay(afterFailures: 40, jitter: 1) == .seconds(30))
        #expect(backoff.delay(afterFailures: 3, jitter: 0.5) == .milliseconds(625))
    }

    @Test("awaitable state resumes a waiter when its condition holds, ends waits on close and on cancellation")
    func awaitableState() async throws {
        let state = AwaitableState(0)
        let reached = Task { try await state.wait { $0 >= 3 } }
        for value in 1...3 { state.update { $0 = value } }
        try await reached.value
        let waiting = Task { try await state.wait { $0 > 100 } }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        let closed = Task { try await state.wait { $0 > 100 } }
        state.close()
        await #expect(throws: CancellationError.self) { try await closed.value }
        await #expect(throws: CancellationError.self) { try await state.wait { _ in true } }
    }

    @Test("a hand-off holds at most its capacity, hands over in order, and drains what is queued after finish")
    func asyncHandoff() async throws {
        let handoff = AsyncHandoff<Int>(capacity: 1)
        let sent = Tally()
        let producer = Task {
            for value in 1...3 {
                try await handoff.send(value)
                sent.increment()
            }
        }
        try await eventually("the first send is queued") { sent.value == 1 }
        #expect(sent.value == 1, "the second send waits for the consumer")
        #expect(await handoff.next() == 1)
        #expect(await handoff.next() == 2)
        try await producer.value
        handoff.finish()
        #expect(await handoff.next() == 3, "finish drains what is queued")
        #expect(await handoff.next() == nil)
        await #expect(throws: CancellationError.self) { try await handoff.send(4) }
    }
}
