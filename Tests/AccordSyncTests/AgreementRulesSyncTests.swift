import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import AccordTestSupport
import Foundation
import Testing

/// Protocol version 5 beside older nodes (docs/protocol.md, "Versions"): a node of version 4 is
/// never sent a change it could not decode, nor anything after it in that agreement, and keeps
/// syncing everything else; once it speaks version 5 it catches up.
@Suite("Agreement rules beside an older node", .serialized)
struct AgreementRulesSyncTests {
    @Test("initech (version 4) gets an agreement up to its first change of version 5 and nothing after, while other agreements keep reaching it; globex (version 5) gets all; initech upgraded catches up")
    func olderNodeIsSentOnlyWhatItReads() async throws {
        let nodes = try SyncTests.mesh(["acme-node1", "globex-node1", "initech-node1"])
        let (acme, globex, initech) = (nodes[0], nodes[1], nodes[2])
        try await acme.start()
        try await globex.start()
        try await initech.start { $0.protocolVersions = 1...4 }
        try await SyncTests.cleaningUp(nodes) {
            let agreement = try await acme.create(SyncTests.three)
            try await acme.edit(agreement, [.note("before version 5")])
            _ = try await SyncTests.converged(nodes, agreement)
            // A notice period (version 5), then a note any version could read, which builds on it.
            try await acme.edit(agreement, [.set(.noticePeriod, .days(30))])
            try await acme.edit(agreement, [.note("after version 5")])
            let other = try await acme.create(SyncTests.three)
            try await acme.edit(other, [.note("still in version 1")])
            _ = try await SyncTests.converged([acme, globex], agreement)
            _ = try await SyncTests.converged(nodes, other)
            let atInitech = try #require(try await initech.store.agreement(agreement)).agreement
            #expect(atInitech.notes.map(\.text) == ["before version 5"], "nothing from the first change of version 5 on")
            #expect(atInitech.noticeDays == nil)
            #expect(try #require(try await globex.store.agreement(agreement)).agreement.notes.count == 2)
            #expect(Set(acme.sync.sessions.map(\.version)) == [4, 5])
            // A round between acme and initech still ends clean: the agreement is left out of it.
            let rounds = await acme.sync.synchronise(with: "initech")
            #expect(rounds.count == 1 && rounds.values.allSatisfy { (try? $0.get())?.isClean == true }, "\(rounds)")

            await initech.stop()
            try await initech.start()
            _ = try await SyncTests.converged(nodes, agreement)
            #expect(try #require(try await initech.store.agreement(agreement)).agreement.noticeDays == 30)
        }
        for node in nodes { await node.stop(); node.remove() }
    }
}
