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

    /// Runs both sides to completion; returns both difference sets, the bytes both sent as frames,
    /// and the number of messages.
    static func reconcile(_ mine: [ReconciliationItem], _ theirs: [ReconciliationItem]) throws
        -> (initiator: Set<AgreementID>, responder: Set<AgreementID>, bytes: Int, messages: Int)
    {
        var initiator = RangeReconciler(items: mine)
        var responder = RangeReconciler(items: theirs)
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
            guard messages < 100 else { throw TestFailure("reconciliation did not terminate") }
        }
        return (initiator.differences, responder.differences, bytes, messages)
    }

    @Test("random sets: both sides find exactly the agreements that differ", arguments: 0..<40)
    func randomSets(seed: Int) throws {
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
        let result = try Self.reconcile(shared + onlyMine, theirs.shuffled(using: &random))
        #expect(result.initiator == expected, "seed \(seed)")
        #expect(result.responder == expected, "seed \(seed)")
    }

    @Test("100,000 shared agreements in sync reconcile in one round trip and a few hundred bytes")
    func inSync() throws {
        var random = SplitMix64(seed: 1)
        let items = (0..<100_000).map { _ in Self.item(&random) }
        let result = try Self.reconcile(items, items.reversed())
        #expect(result.initiator.isEmpty && result.responder.isEmpty)
        #expect(result.messages <= 2)
        #expect(result.bytes <= 8 * 1024)
        let naive = 100_000 * (16 + 32)
        print("in sync, 100,000 agreements: \(result.bytes) bytes in \(result.messages) message(s); a full digest list is \(naive) bytes")
    }

    @Test("100 differences among 100,000 cost bytes in proportion to the differences")
    func hundredDifferences() throws {
        var random = SplitMix64(seed: 2)
        let items = (0..<100_000).map { _ in Self.item(&random) }
        var theirs = items
        var expected = Set<AgreementID>()
        for _ in 0..<100 {
            let index = Int.random(in: 0..<theirs.count, using: &random)
            expected.insert(theirs[index].agreement)
            theirs[index] = ReconciliationItem(agreement: theirs[index].agreement, headsDigest: SHA256Digest(hashing: [9, 9]))
        }
        let result = try Self.reconcile(items, theirs)
        #expect(result.initiator == expected)
        #expect(result.responder == expected)
        let naive = 100_000 * (16 + 32)
        #expect(result.bytes < naive / 10)
        print("100 differences among 100,000: \(result.bytes) bytes in \(result.messages) messages; a full digest list is \(naive) bytes")
    }
}
