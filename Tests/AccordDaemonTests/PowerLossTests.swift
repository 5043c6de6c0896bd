import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore
import AccordTestSupport
import Foundation
import Testing

/// Power loss (issue 17): writes not yet synced are lost at the cut. Simulated with an undo log
/// kept by a preloaded library (Tests/PowerCut/powercut.c) and applied after a SIGKILL.
@Suite("Power loss", .serialized)
struct PowerLossTests {
    @Test("the power-cut library undoes exactly what was written since the file's last sync: an unsynced append, overwrite, truncation and new file are gone, synced bytes stay")
    func library() async throws {
        let folder = TestCertificates.temporaryFolder("accord-powercut-check")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let power = try PowerCut(dataDirectory: "\(folder)/data", undoDirectory: "\(folder)/undo")
        let data = power.dataDirectory
        try await TestCertificates.shell("-c", [
            """
            set -e; cd '\(data)'
            dd if=/dev/zero of=synced bs=1024 count=4 conv=fsync status=none
            dd if=/dev/zero of=resynced bs=1024 count=2 status=none
            printf 'lost' | dd of=synced oflag=append conv=notrunc status=none
            printf 'AB' | dd of=synced bs=1 seek=10 conv=notrunc status=none
            truncate -s 1000 synced
            printf 'gone' | dd of=fresh status=none
            printf 'kept' | dd of=resynced bs=1 seek=2048 conv=notrunc,fdatasync status=none
            """,
        ], environment: try await power.environment())
        #expect(FileManager.default.contents(atPath: "\(data)/synced")?.count == 1000, "the writes happened")
        let loss = try power.cut()
        #expect(FileManager.default.contents(atPath: "\(data)/synced") == Data(count: 4096), "synced: as at its fsync")
        #expect(FileManager.default.contents(atPath: "\(data)/fresh") == Data(), "a new file's unsynced content is gone")
        #expect(FileManager.default.contents(atPath: "\(data)/resynced") == Data(count: 2048) + Data("kept".utf8), "synced later: all kept")
        #expect(loss.files == 2 && loss.writesUndone >= 5, "synced: an append, two one-byte writes, a truncation; fresh: a write — \(loss)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: power.undoDirectory).isEmpty, "the logs are consumed")
    }

    @Test("power cuts while accordctl and a partner write: every change acknowledged to accordctl, and every change the partner was told acme holds, survives the cut")
    func acknowledgedSurvives() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        let power = try PowerCut(dataDirectory: acme.dataDirectory, undoDirectory: "\(acme.folder)/undo")
        acme.environment = try await power.environment()
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            _ = try await acme.waitForSession(with: "globex/node1")
            let id = try await acme.createAgreement("Power cuts", parties: ["acme", "globex"])
            try await eventually("globex has it") { try await globex.agreementIDs().contains(id) }
            var acknowledgedByAcme: Set<String> = []
            var undone = PowerCut.Loss()
            for round in 0..<4 {
                // Three writers on acme, one on globex (whose changes acme receives and acknowledges),
                // until both nodes are killed mid-stream.
                let stopping = StopFlag()
                let writers = Task {
                    try await withThrowingTaskGroup(of: [String].self) { group in
                        for (node, writer) in [(acme, 0), (acme, 1), (acme, 2), (globex, 3)] {
                            group.addTask {
                                var receipts: [String] = []
                                var index = 0
                                while !stopping.isRaised {
                                    let receipt: ChangeReceipt? = try await node.answer(["agreements", "note", id, "round \(round) writer \(writer) note \(index)"])
                                    if let receipt, node === acme { receipts.append(receipt.change) }
                                    index += 1
                                }
                                return receipts
                            }
                        }
                        return try await group.reduce(into: []) { $0 += $1 }
                    }
                }
                try await Task.sleep(for: .milliseconds(400 + 150 * round))
                try await acme.stop(SIGKILL)
                try await globex.stop(SIGKILL)
                stopping.raise()
                acknowledgedByAcme.formUnion(try await writers.value)
                let loss = try power.cut()
                undone = undone + loss

                // What globex had been told acme holds: its log up to acme's acknowledged position.
                let toldGlobex = try await Self.acknowledged(by: "acme", node: "node1", in: globex)
                // acme, back alone (no partner to repair anything from), holds all of it.
                acme.peers = []
                try await acme.start()
                let held = Set(try await acme.json("agreements", "history", id, as: [HistoryItem].self).map(\.change))
                #expect(acknowledgedByAcme.isSubset(of: held), "round \(round): \(acknowledgedByAcme.subtracting(held).count) change(s) acknowledged to accordctl lost")
                #expect(toldGlobex.isSubset(of: held), "round \(round): \(toldGlobex.subtracting(held).count) change(s) acknowledged to globex lost")
                print("power cut \(round): \(loss.writesUndone) unsynced writes (\(loss.bytesUndone) bytes) undone; \(acknowledgedByAcme.count) acknowledged to accordctl and \(toldGlobex.count) to globex, all held")
                try await acme.stop()
                acme.peers = [globex.address]
                for node in nodes { try await node.start() }
            }
            try await eventually("both hold the same history", timeout: .seconds(60)) {
                let (a, g) = (try await acme.json("agreements", "history", id, as: [HistoryItem].self), try await globex.json("agreements", "history", id, as: [HistoryItem].self))
                return Set(a.map(\.change)) == Set(g.map(\.change)) && acknowledgedByAcme.isSubset(of: Set(a.map(\.change)))
            }
            print("power cuts: \(undone.writesUndone) unsynced writes (\(undone.bytesUndone) bytes) undone in 4 cuts")
        }
    }

    /// The changes of `node`'s log up to the position it records `organisation`/`name` acknowledged,
    /// read from its database while it is stopped.
    static func acknowledged(by organisation: String, node name: String, in node: DaemonNode) async throws -> Set<String> {
        let ownOrganisation = try #require(OrganisationID(rawValue: node.organisation))
        let peerOrganisation = try #require(OrganisationID(rawValue: organisation))
        let owner = try #require(NodeID(organisation: ownOrganisation, name: node.name))
        let peer = try #require(NodeID(organisation: peerOrganisation, name: name))
        let store = try NodeStore(configuration: StoreConfiguration(directory: node.dataDirectory, node: owner))
        let position = try await store.peers().first { $0.node == peer }?.acknowledgedSequence ?? 0
        let owed = try await store.changes(after: 0, for: peer.organisation, limit: 1_000_000)
        await store.close()
        return Set(owed.filter { $0.sequence <= position }.map(\.change.id.hex))
    }
}
