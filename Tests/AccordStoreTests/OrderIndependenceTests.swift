import AccordCrypto
import AccordModel
import AccordStore
import AccordTestSupport
import Foundation
import Testing

/// The store keeps the model's promise: the same changes, applied in different orders, batchings
/// and with duplicates into different stores, give identical materialised agreements and verdicts.
@Suite("Store order independence")
struct OrderIndependenceTests {
    @Test("random histories applied in different orders give identical stores")
    func differentOrders() async throws {
        let seed = UInt64.random(in: 1...UInt64(UInt32.max))
        var pool: [VerifiedChange] = []
        var latest: UInt64 = 0
        for index in 0..<30 {
            var history = RandomHistory(seed: seed &+ UInt64(index))
            try history.run()
            pool += history.pool
            latest = max(latest, history.now)
        }
        // Far enough ahead that nothing is held for clock skew.
        let now = latest + 3_600_000
        var random = SplitMix64(seed: seed)
        var snapshots: [[String]] = []
        for storeIndex in 0..<3 {
            let directory = try TemporaryDirectory("order")
            defer { directory.remove() }
            let store = try StoreFixtures.open(directory.path, node: NodeID(organisation: "acme", name: "s\(storeIndex)")!, cached: 8)
            var deliveries = pool + pool.shuffled(using: &random).prefix(pool.count / 4)
            deliveries.shuffle(using: &random)
            while !deliveries.isEmpty {
                let batch = deliveries.prefix(Int.random(in: 1...40, using: &random))
                deliveries.removeFirst(batch.count)
                _ = try await store.apply(Array(batch), nowMillis: now)
            }
            #expect(try await store.counts().held == 0, "seed \(seed)")
            #expect(try await store.checkConsistency().isConsistent, "seed \(seed)")
            snapshots.append(try await Self.snapshot(store, pool: pool))
            await store.close()
        }
        #expect(snapshots[0].count >= 30)
        #expect(snapshots[1] == snapshots[0], "seed \(seed)")
        #expect(snapshots[2] == snapshots[0], "seed \(seed)")
    }

    /// Every agreement's canonical state and every change's verdict, as comparable text.
    static func snapshot(_ store: NodeStore, pool: [VerifiedChange]) async throws -> [String] {
        var lines: [String] = []
        for summary in try await store.agreements(today: CalendarDate(unixMillis: 0)) {
            let detail = try #require(try await store.agreement(summary.id))
            lines.append("\(summary.id) \(summary.termsHash) \(SHA256Digest(hashing: detail.state.canonicalEncoding)) \(summary.status)")
        }
        let verdicts = try await store.verdicts(of: pool.map(\.id))
        lines += pool.map { "\($0.id) \(verdicts[$0.id].map(\.rawValue) ?? "unknown")" }.sorted()
        return lines
    }
}
