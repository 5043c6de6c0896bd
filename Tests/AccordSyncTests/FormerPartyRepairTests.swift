import AccordModel
import AccordStore
import AccordSync
import AccordTestSupport
import Foundation
import Testing

/// A former party's node that lost its disk and wrote again (the chaos soak's seed 567766386):
/// the partner must still send it the log it is owed, though what the node acknowledged before
/// the loss says it has it.
@Suite("Repair of a former party after a lost disk", .serialized)
struct FormerPartyRepairTests {
    @Test("globex withdraws, loses its disk, is rebuilt holding only the genesis and writes on it again; acme still sends it its own withdrawal")
    func formerPartyLearnsItsWithdrawal() async throws {
        let nodes = try SyncTests.mesh(["acme-node1", "globex-node1"])
        let (acme, globex) = (nodes[0], nodes[1])
        // Rounds every second: the first round of a session may plan before acme holds globex's new head.
        try await acme.start { $0.reconcileInterval = .seconds(1) }
        try await globex.start { $0.reconcileInterval = .seconds(1) }
        try await SyncTests.cleaningUp(nodes) {
            let agreement = try await acme.create([
                .set(.title, .text("GPU pilot")), .set(.category, .category(.technicalResources)), .addParty("acme"), .addParty("globex"),
            ])
            for index in 0..<5 { try await acme.edit(agreement, [.note("note \(index)")]) }
            try await SyncTests.converged(nodes, agreement)
            try await globex.edit(agreement, [.withdrawParty("globex")])
            let withdrawal = try #require(try await globex.store.history(of: agreement).last?.change.id)
            try await eventually("acme has globex's withdrawal, and globex acknowledged it") {
                try await acme.store.verdict(of: withdrawal) == .accepted
                    && acme.sync.sessions.contains { $0.node == globex.id && $0.acknowledgedThrough > 0 }
            }
            let genesis = try #require(try await acme.store.history(of: agreement).first)

            // globex loses its disk; rebuilt, it holds the genesis only and writes on it again —
            // concurrent with its withdrawal, which it no longer knows of.
            await globex.stop()
            globex.remove()
            try await globex.startStoreOnly()
            _ = try await globex.store.apply(
                [VerifiedChange(fromTrustedLog: SignedChange(change: genesis.change, signature: genesis.signature))], nowMillis: ClusterNode.clock()
            )
            try await globex.edit(agreement, [.note("written after the loss")])
            #expect(try await globex.store.verdict(of: withdrawal) == nil)
            await globex.stop()
            try await globex.start { $0.reconcileInterval = .seconds(1) }

            try await eventually("globex learns again that it withdrew", timeout: .seconds(30)) {
                try await globex.store.verdict(of: withdrawal) == .accepted
            }
            try await SyncTests.converged(nodes, agreement)
        }
    }
}
