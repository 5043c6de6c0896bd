import AccordRefusals
import AccordCrypto
import AccordModel
import AccordSync
import Logging
import NIOCore
import NIOEmbedded
import Testing

/// The pure parts and handlers that bound what a hostile peer costs, without sockets.
@Suite("Connection guards")
struct ConnectionGuardTests {
    @Test("pending connections: a full source evicts its own oldest silent connection, a full table the busiest source's")
    func pendingConnectionEviction() {
        var table = PendingConnectionTable(limits: PendingConnectionLimits(total: 4, perSource: 2))
        let a1 = table.admit(source: "a")
        let a2 = table.admit(source: "a")
        #expect(a1.evict.isEmpty && a2.evict.isEmpty)
        table.spoke(a1.id)
        // a is full: its oldest *silent* connection goes, not the one that spoke.
        let a3 = table.admit(source: "a")
        #expect(a3.evict == [a2.id])
        let b1 = table.admit(source: "b")
        let c1 = table.admit(source: "c")
        #expect(b1.evict.isEmpty && c1.evict.isEmpty && table.count == 4)
        // The table is full: the source with the most pending connections pays.
        let d1 = table.admit(source: "d")
        #expect(d1.evict == [a3.id], "a's silent connection goes first")
        table.remove(b1.id)
        table.remove(b1.id)  // twice is harmless
        #expect(table.count == 3)
    }

    @Test("pending connections: a node holds at most two after its TLS handshake; a flood with a valid certificate evicts its own connections before a partner's behind the same address")
    func pendingConnectionsPerNode() {
        var table = PendingConnectionTable(limits: PendingConnectionLimits(total: 8, perSource: 4))
        // A partner and an attacker behind one address (loopback, a shared NAT).
        let partner = table.admit(source: "10.0.0.1")
        table.spoke(partner.id)
        #expect(table.authenticated(partner.id, node: "globex/node1").isEmpty)
        var attacker: [UInt64] = []
        for _ in 0..<3 {
            let admitted = table.admit(source: "10.0.0.1")
            table.spoke(admitted.id)
            attacker.append(admitted.id)
        }
        #expect(table.authenticated(attacker[0], node: "initech/node1").isEmpty)
        #expect(table.authenticated(attacker[1], node: "initech/node1").isEmpty)
        #expect(table.authenticated(attacker[2], node: "initech/node1") == [attacker[0]], "a third connection of one node evicts its oldest")
        // Three of four places: one more fits.
        let next = table.admit(source: "10.0.0.1")
        #expect(next.evict.isEmpty)
        table.spoke(next.id)
        // The source is full: a new connection evicts one of the node with two waiting, not the
        // partner's only one, though the partner's is the oldest.
        let another = table.admit(source: "10.0.0.1")
        #expect(another.evict == [attacker[1]], "\(another.evict)")
        table.spoke(another.id)
        // Full again, every node down to one: the oldest still in its handshake goes.
        let third = table.admit(source: "10.0.0.1")
        #expect(third.evict == [next.id], "\(third.evict)")
        #expect(table.authenticated(partner.id, node: "globex/node1").isEmpty, "naming a node twice changes nothing")
    }

    @Test("refusals: the first of a reason is logged in full, the rest of its window folded into one summary")
    func refusalSummary() {
        var summary = RefusalSummary(interval: .seconds(10))
        let start = ContinuousClock.now
        /// Whether each refusal, at seconds after `start`, is logged in full.
        func inFull(_ reason: String, _ detail: String, at seconds: Int) -> Bool {
            summary.record(reason: reason, detail: detail, at: start + .seconds(seconds))
        }
        #expect([inFull("evicted", "1", at: 0), inFull("evicted", "2", at: 1), inFull("evicted", "3", at: 2)] == [true, false, false])
        #expect(inFull("not-tls", "x", at: 2), "another reason is logged at once")
        let early = summary.closeWindows(at: start + .seconds(5))
        #expect(early.isEmpty, "no window is due yet")
        let due = summary.closeWindows(at: start + .seconds(12))
        #expect(due == [RefusalSummary.Closed(reason: "evicted", suppressed: 2, last: "3")], "a window without repeats closes silently")
        #expect(inFull("evicted", "4", at: 13), "after its window, a reason is logged in full again")
        #expect(summary.counts == ["evicted": 4, "not-tls": 1], "every refusal is counted, logged in full or folded")
    }

    @Test("penalties double with each strike up to the longest, forged changes get the quarantine at once, ten quiet minutes forgive")
    func penalties() {
        var penalties = PeerPenalties(penalties: .seconds(1) ... .seconds(8), forgerQuarantine: .seconds(60))
        let node = NodeID(organisation: "initech", name: "node1")!
        let start = ContinuousClock.now
        func strike(_ reason: String, at offset: Duration) -> Duration { penalties.strike(node, reason: reason, at: start + offset) }
        #expect(PeerPenalties.isMisbehaviour("malformed-frame") && !PeerPenalties.isMisbehaviour("idle"))
        #expect(strike("malformed-frame", at: .zero) == .seconds(1))
        #expect(penalties.refusedUntil(node, at: start + .milliseconds(500)) != nil)
        #expect(penalties.refusedUntil(node, at: start + .seconds(2)) == nil)
        let doubling = [strike("protocol-violation", at: .seconds(2)), strike("protocol-violation", at: .seconds(5)),
                        strike("protocol-violation", at: .seconds(10)), strike("protocol-violation", at: .seconds(20))]
        #expect(doubling == [.seconds(2), .seconds(4), .seconds(8), .seconds(8)])
        #expect(strike("forged-changes", at: .seconds(30)) == .seconds(60))
        let quiet = .seconds(31) + PeerPenalties.forgiveAfter
        #expect(strike("malformed-frame", at: quiet) == .seconds(1), "forgiven")
        penalties.forget(before: start + quiet + PeerPenalties.forgiveAfter + .seconds(1))
        #expect(penalties.refusedUntil(node, at: start + quiet) == nil)
    }

    @Test("the repair queue keeps each agreement once, in first-come order, with the newest heads")
    func repairQueue() {
        var queue = RepairQueue()
        let ids = (1...3).map { AgreementID(UUIDBytes(high: UInt64($0), low: 0)) }
        let head = SHA256Digest(hashing: [1])
        queue.request(ids[0], peerHeads: [])
        queue.request(ids[1], peerHeads: [])
        queue.request(ids[0], peerHeads: [head])
        #expect(queue.count == 2)
        let first = queue.take(1)
        #expect(first == [RepairRequest(agreement: ids[0], peerHeads: [head])])
        queue.request(ids[2], peerHeads: [])
        queue.request(ids[0], peerHeads: [])
        let rest = queue.take(10)
        #expect(rest.map(\.agreement) == [ids[1], ids[2], ids[0]])
        let none = queue.take(10)
        #expect(queue.isEmpty && none.isEmpty)
        // However often a peer names the same agreements, the queue holds each once.
        for _ in 0..<10_000 { for id in ids { queue.request(id, peerHeads: []) } }
        #expect(queue.count == 3)
    }

    @Test("a spent frame budget holds reads until it has refilled")
    func frameBudget() throws {
        let channel = EmbeddedChannel()
        // Finishing drops what is still buffered and breaks the channel's cycles (no leak).
        defer { _ = try? channel.finish() }
        let reads = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(reads)
        try channel.pipeline.syncOperations.addHandler(InboundFrameBudget(FrameBudget(rate: 1_000, burst: 10)))
        channel.read()
        #expect(reads.count == 1)
        for nonce in 0..<20 { try channel.writeInbound(WireMessage.ping(nonce: UInt64(nonce))) }
        channel.read()
        #expect(reads.count == 1, "10 units over budget: no read until they are paid")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(11))
        #expect(reads.count == 2, "the held read goes through once the budget is back")
        #expect(FrameBudget.cost(of: .heads(HeadsMessage(entries: [], isFinal: true))) < FrameBudget.cost(of: .heads(HeadsMessage(
            entries: (0..<100).map { HeadsMessage.Entry(agreement: AgreementID(UUIDBytes(high: UInt64($0), low: 1)), heads: []) }, isFinal: true
        ))))
    }

    @Test("while the channel is not writable nothing is read, and a stall past the timeout closes the connection")
    func outboundFlowControl() throws {
        let channel = EmbeddedChannel()
        // Finishing drops what is still buffered and breaks the channel's cycles (no leak).
        defer { _ = try? channel.finish() }
        let reads = ReadCounter()
        let errors = ErrorRecorder()
        try channel.pipeline.syncOperations.addHandler(reads)
        try channel.pipeline.syncOperations.addHandler(OutboundFlowControl(stallTimeout: .seconds(5)))
        try channel.pipeline.syncOperations.addHandler(errors)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.read()
        #expect(reads.count == 1)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.read()
        #expect(reads.count == 1, "no read while the peer does not read")
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(reads.count == 2, "the held read goes through when writable again")
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(errors.errors.contains { $0 is PeerNotReading })
        #expect(!channel.isActive, "the stalled connection is closed")
    }
}

/// Counts read requests that reach the head of the pipeline.
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    private(set) var count = 0
    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

private final class ErrorRecorder: ChannelInboundHandler {
    typealias InboundIn = Any
    private(set) var errors: [any Error] = []
    func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }
}
