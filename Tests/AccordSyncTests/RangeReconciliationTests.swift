import AccordCrypto
import AccordModel
import AccordSync
import AccordTestSupport
import NIOCore
import Testing

@Suite("Range-based set reconciliation")
struct RangeReconciliationTests {
    static func item(_ random: inout SplitMix64) -> ReconciliationItem {
        ReconciliationItem(
            agreement: AgreementID(UUIDBytes(high: random.next(), low: random.next())),
            headsDigest: SHA256Digest(hashing: [UInt8(truncatingIfNeeded: random.next()), UInt8(truncatingIfNeeded: random.next())])
        )
    }

    /// Runs both sides to completion (the large cases on a thread of their own, `onOwnThread`); returns both difference sets, the bytes both sent as frames,
    /// and the number of messages.
    /// `codedSymbols`: both sides speak protocol version 2.
    static func reconcile(_ mine: [ReconciliationItem], _ theirs: [ReconciliationItem], codedSymbols: Bool = false) throws
        -> (initiator: Set<AgreementID>, responder: Set<AgreementID>, bytes: Int, messages: Int, responderWhole: Set<AgreementID>, initiatorWhole: Set<AgreementID>)
    {
        var initiator = RangeReconciler(items: mine, codedSymbols: codedSymbols)
        var responder = RangeReconciler(items: theirs, codedSymbols: codedSymbols)
        var message: RangeMessage? = initiator.initiate()
        var bytes = 0
        var messages = 0
        var turn = 1
        while let current = message {
            // Every message goes through the real frame codec, as on the wire.
            let frame = FrameEncoder.frame(.reconcile(current))
            bytes += frame.count
            messages += 1
            var buffer = ByteBuffer(bytes: frame)
            guard case .reconcile(let decoded)? = try FrameDecoder.nextMessage(from: &buffer, maximumFrameBytes: 1 << 20) else {
                throw TestFailure("a reconcile frame did not decode")
            }
            message = turn % 2 == 1 ? responder.respond(to: decoded) : initiator.respond(to: decoded)
            turn += 1
            guard messages < 1000 else { throw TestFailure("reconciliation did not terminate") }
        }
        return (initiator.differences, responder.differences, bytes, messages, responder.missingAtPeer, initiator.missingAtPeer)
    }

    @Test("random sets: every differing agreement is found by at least one side, and nothing else", arguments: 0..<40, [false, true])
    func randomSets(seed: Int, codedSymbols: Bool) throws {
        var random = SplitMix64(seed: UInt64(seed) &+ 0x5eed)
        let shared = (0..<Int.random(in: 0...400, using: &random)).map { _ in Self.item(&random) }
        let onlyMine = (0..<Int.random(in: 0...20, using: &random)).map { _ in Self.item(&random) }
        let onlyTheirs = (0..<Int.random(in: 0...20, using: &random)).map { _ in Self.item(&random) }
        var changed: [ReconciliationItem] = []
        var theirs = shared + onlyTheirs
        for index in theirs.indices where index < shared.count && Int.random(in: 0..<30, using: &random) == 0 {
            changed.append(theirs[index])
            theirs[index] = ReconciliationItem(agreement: theirs[index].agreement, headsDigest: SHA256Digest(hashing: [1, 2, 3]))
        }
        let expected = Set((onlyMine + onlyTheirs + changed).map(\.agreement))
        let result = try Self.reconcile(shared + onlyMine, theirs.shuffled(using: &random), codedSymbols: codedSymbols)
        // Each side may know only part of the differences (a side that lacks a whole range learns
        // nothing of it on the wire); the heads exchange that follows tells the other side.
        #expect(result.initiator.union(result.responder) == expected, "seed \(seed)")
        #expect(result.initiator.isSubset(of: expected) && result.responder.isSubset(of: expected), "seed \(seed)")
        // "The peer has nothing of it" is only ever said when true.
        #expect(result.initiatorWhole.isSubset(of: Set(onlyMine.map(\.agreement))), "seed \(seed)")
        #expect(result.responderWhole.isSubset(of: Set(onlyTheirs.map(\.agreement))), "seed \(seed)")
    }

    @Test("100,000 shared agreements in sync reconcile in one round trip and a few hundred bytes", arguments: [false, true])
    func inSync(codedSymbols: Bool) async throws {
        var random = SplitMix64(seed: 1)
        let items = (0..<100_000).map { _ in Self.item(&random) }
        let result = try await onOwnThread { try Self.reconcile(items, items.reversed(), codedSymbols: codedSymbols) }
        #expect(result.initiator.isEmpty && result.responder.isEmpty)
        #expect(result.messages <= 2)
        #expect(result.bytes <= 8 * 1024)
        let naive = 100_000 * (16 + 32)
        print("in sync, 100,000 agreements: \(result.bytes) bytes in \(result.messages) message(s); a full digest list is \(naive) bytes")
    }

    @Test("sides in sync settle in one small message each way, whatever the number of shared agreements", arguments: [1, 16, 30, 1_000], [false, true])
    func inSyncIsSmall(count: Int, codedSymbols: Bool) throws {
        var random = SplitMix64(seed: UInt64(count))
        let items = (0..<count).map { _ in Self.item(&random) }.sorted { $0.agreement < $1.agreement }
        let result = try Self.reconcile(items, items, codedSymbols: codedSymbols)
        #expect(result.initiator.isEmpty && result.responder.isEmpty)
        #expect(result.messages == 2 && result.bytes <= 96, "\(result.messages) messages, \(result.bytes) bytes")
    }

    @Test("100 differences among 100,000 cost bytes in proportion to the differences; with coded symbols at most 200 bytes each", arguments: [false, true])
    func hundredDifferences(codedSymbols: Bool) async throws {
        var random = SplitMix64(seed: 2)
        let items = (0..<100_000).map { _ in Self.item(&random) }
        var theirs = items
        var expected = Set<AgreementID>()
        for _ in 0..<100 {
            let index = Int.random(in: 0..<theirs.count, using: &random)
            expected.insert(theirs[index].agreement)
            theirs[index] = ReconciliationItem(agreement: theirs[index].agreement, headsDigest: SHA256Digest(hashing: [9, 9]))
        }
        let result = try await onOwnThread { [theirs] in try Self.reconcile(items, theirs, codedSymbols: codedSymbols) }
        let naive = 100_000 * (16 + 32)
        #expect(result.bytes < naive / 10)
        if codedSymbols {
            // The side that decodes knows every difference; the heads it sends tell the other.
            #expect(result.initiator.union(result.responder) == expected)
            #expect(result.bytes <= 100 * 200, "\(result.bytes) bytes")
        } else {
            #expect(result.initiator == expected)
            #expect(result.responder == expected)
        }
        print("100 differences among 100,000\(codedSymbols ? " (coded symbols)" : ""): \(result.bytes) bytes in \(result.messages) messages; a full digest list is \(naive) bytes")
    }

    @Test("a side that has nothing learns it in one round trip: the other side sends everything, no list on the wire", arguments: [false, true])
    func emptySide(codedSymbols: Bool) async throws {
        var random = SplitMix64(seed: 3)
        let items = (0..<100_000).map { _ in Self.item(&random) }
        let everything = Set(items.map(\.agreement))
        for (mine, theirs) in [(items, [ReconciliationItem]()), ([], items)] {
            let result = try await onOwnThread { try Self.reconcile(mine, theirs, codedSymbols: codedSymbols) }
            #expect(result.messages <= 2)
            #expect(result.bytes < 2048)
            #expect(result.initiatorWhole.union(result.responderWhole) == everything)
        }
    }

    @Test("30,000 differences among 100,000: every message fits a frame, and all are found", arguments: [false, true])
    func manyDifferences(codedSymbols: Bool) async throws {
        var random = SplitMix64(seed: 4)
        let items = (0..<100_000).map { _ in Self.item(&random) }
        var theirs = items
        var expected = Set<AgreementID>()
        for index in stride(from: 0, to: theirs.count, by: 3) where expected.count < 30_000 {
            expected.insert(theirs[index].agreement)
            theirs[index] = ReconciliationItem(agreement: theirs[index].agreement, headsDigest: SHA256Digest(hashing: [7]))
        }
        // Frames over 1 MiB or 4096 ranges would fail to decode in `reconcile`.
        let result = try await onOwnThread { [theirs] in try Self.reconcile(items, theirs, codedSymbols: codedSymbols) }
        #expect(result.initiator.union(result.responder) == expected)
        print("30,000 differences among 100,000\(codedSymbols ? " (coded symbols)" : ""): \(result.bytes) bytes in \(result.messages) messages")
    }
}
