import AccordModel
import AccordSync
import AccordTestSupport
import Foundation
import Testing

/// Protocol versions between real nodes: version 2 (coded symbols in reconciliation) between two
/// nodes of this release, version 1 with a node that speaks only 1 — both repair what only
/// reconciliation can find.
@Suite("Protocol versions between real nodes", .serialized)
struct ProtocolVersionTests {
    @Test(
        "globex restored from an older copy of its data: reconciliation finds the 30 agreements it lost, over version 2 and with a node of version 1",
        arguments: [1...2, 1...1] as [ClosedRange<UInt16>]
    )
    func restoredFromAnOlderCopy(globexVersions: ClosedRange<UInt16>) async throws {
        let nodes = try SyncTests.mesh(["acme-node1", "globex-node1"])
        let (acme, globex) = (nodes[0], nodes[1])
        let startGlobex = { try await globex.start { $0.protocolVersions = globexVersions } }
        try await acme.start()
        try await startGlobex()
        try await SyncTests.cleaningUp(nodes) {
            var agreements: [AgreementID] = []
            for index in 0..<60 {
                agreements.append(try await acme.create([
                    .set(.title, .text("Shared lab \(index)")), .set(.category, .category(.technicalResources)), .addParty("acme"), .addParty("globex"),
                ]))
            }
            for agreement in agreements { try await SyncTests.converged(nodes, agreement) }
            #expect(acme.sync.sessions.map(\.version) == [globexVersions.upperBound], "the highest version both speak")

            // A copy of globex's data now; then 30 edits reach it and are acknowledged.
            await globex.stop()
            let copy = globex.directory + ".copy"
            try FileManager.default.copyItem(atPath: globex.directory, toPath: copy)
            defer { try? FileManager.default.removeItem(atPath: copy) }
            try await startGlobex()
            for agreement in agreements.prefix(30) { try await acme.edit(agreement, [.note("after the copy")]) }
            for agreement in agreements.prefix(30) { try await SyncTests.converged(nodes, agreement) }

            // globex goes back to the copy: acme's cursor says globex has those edits, so only
            // reconciliation can find that it lacks them.
            await globex.stop()
            try FileManager.default.removeItem(atPath: globex.directory)
            try FileManager.default.copyItem(atPath: copy, toPath: globex.directory)
            let bytesBefore = acme.sync.metrics.snapshot.reconcileBytes - acme.sync.metrics.snapshot.headsBytes
            try await startGlobex()
            for agreement in agreements { try await SyncTests.converged(nodes, agreement) }
            let bytes = acme.sync.metrics.snapshot.reconcileBytes - acme.sync.metrics.snapshot.headsBytes - bytesBefore
            let rounds = acme.sync.sessions.compactMap(\.lastRound)
            #expect(rounds.contains { $0.differences == 30 }, "the round found the 30 agreements globex lost: \(rounds)")
            print("version \(globexVersions.upperBound): 30 differences among 60 reconciled in \(bytes) bytes of reconcile frames")
        }
    }
}
