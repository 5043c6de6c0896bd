import AccordCrypto
import AccordModel
import AccordTestSupport
import Foundation
import Testing

/// The property the whole design rests on: the same set of changes, delivered to every replica in
/// a different order and with duplicates, yields byte-identical state and identical verdicts.
///
/// Each history is generated from a seed. A failure names it; replay one history with
/// `ACCORD_CONVERGENCE_SEED=<seed> ACCORD_CONVERGENCE_HISTORIES=1 swift test --filter Convergence`.
@Suite("Convergence of random histories")
struct ConvergenceTests {
    static let environment = ProcessInfo.processInfo.environment
    /// Histories per CI run: 1,000 by default, split into batches that run in parallel.
    static let historyCount = environment["ACCORD_CONVERGENCE_HISTORIES"].flatMap(Int.init) ?? 1_000
    static let batchCount = min(historyCount, 8)
    static let baseSeed: UInt64 = environment["ACCORD_CONVERGENCE_SEED"].flatMap(UInt64.init)
        ?? UInt64.random(in: 1...UInt64(UInt32.max))

    @Test("every replica ends byte-identical and agrees on every verdict", arguments: 0..<batchCount)
    func convergence(batch: Int) async throws {
        // Seconds of computation: on a thread of its own, so the batches running at once do not
        // hold the cooperative pool (`onOwnThread`).
        let statistics = try await onOwnThread {
            var statistics = HistoryStatistics()
            for index in stride(from: batch, to: Self.historyCount, by: Self.batchCount) {
                let seed = Self.baseSeed &+ UInt64(index)
                var history = RandomHistory(seed: seed)
                try history.run()
                try history.checkConvergence()
                statistics.add(history.statistics)
            }
            return statistics
        }
        print("convergence batch \(batch) (base seed \(Self.baseSeed)): \(statistics)")
        // The generator must actually reach the interesting cases, or the property proves little.
        let histories = (Self.historyCount - batch + Self.batchCount - 1) / Self.batchCount
        if histories >= 50 {
            #expect(statistics.rejected > 0, "no change was ever rejected (base seed \(Self.baseSeed))")
            #expect(statistics.historiesWithConflicts > 0, "no concurrent edit ever conflicted")
            #expect(statistics.historiesWithTermination > 0, "no history terminated its agreement")
            #expect(statistics.heldForSkew > 0, "no change was ever held for clock skew")
            #expect(statistics.heldForDependencies > 0, "no change ever arrived before its dependencies")
            #expect(statistics.lateJoinerChanges > 0, "no party added later ever made a change")
            // The rules of protocol version 5 (rarer outcomes, a removal that succeeds, are
            // scenarios of MergeTests: a batch of 125 histories reaches them only a few times).
            #expect(statistics.stepsAccepted > 0, "no step of fulfilment was ever accepted")
            for rule in ["progress-by-wrong-party", "progress-out-of-order", "void-refused", "edit-after-void", "no-termination-to-agree"] {
                #expect(statistics.codes[rule, default: 0] > 0, "rule \(rule) never refused a change (base seed \(Self.baseSeed))")
            }
        }
    }
}


extension RandomHistory {
    /// Every replica ends byte-identical, with identical verdicts and nothing left held.
    mutating func checkConvergence() throws {
        let agreement = try #require(agreement)
        deliverEverythingEverywhere()
        let reference = try #require(nodes[0].replica[agreement])
        let referenceVerdicts = verdicts(reference)
        for node in nodes {
            let replica = try #require(node.replica[agreement])
            #expect(replica.held.isEmpty, "seed \(seed): \(node.id) still holds \(replica.held.count) change(s)")
            #expect(
                replica.state.canonicalEncoding == reference.state.canonicalEncoding,
                "seed \(seed): \(node.id) diverged from \(nodes[0].id)"
            )
            #expect(verdicts(replica) == referenceVerdicts, "seed \(seed): \(node.id) judged changes differently")
            #expect(replica.agreement.termsHash == reference.agreement.termsHash, "seed \(seed)")
        }
        recordOutcome(reference)
    }
}
