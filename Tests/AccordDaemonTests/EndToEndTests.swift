import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// Real `accordd` processes on 127.0.0.1 with the example certificates and their own SQLite
/// files, driven only through the real `accordctl` binary.
@Suite("accordd and accordctl end to end", .serialized)
struct EndToEndTests {
    @Test("create on acme, edit on globex, approve on both: active on both; initech holds no trace; a later edit makes both approvals stale")
    func partnership() async throws {
        let nodes = try daemonMesh(["acme", "globex", "initech"])
        let (acme, globex, initech) = (nodes[0], nodes[1], nodes[2])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }

            let created: CreatedAgreement = try await acme.json(
                "agreements", "create", "--title", "Joint GPU support desk", "--category", "fullSupport",
                "--party", "acme", "--party", "globex", "--framework", "serviceCoverage=EU, 24/7"
            )
            let id = created.id
            try await eventually("globex has the agreement", timeout: .seconds(60)) { try await globex.ctl("agreements", "show", id).succeeded }
            #expect(try await globex.ctl("agreements", "set", id, "title", "Joint GPU and storage support desk").succeeded)
            #expect(try await globex.ctl("sync", "--peer", "acme", "--wait", "--timeout", "60").succeeded)
            try await eventually("acme has globex's edit", timeout: .seconds(60)) {
                try await acme.json("agreements", "show", id, as: AgreementView.self).title == "Joint GPU and storage support desk"
            }

            // Each approves the terms it read: --terms-hash makes that explicit.
            for node in [acme, globex] {
                let view: AgreementView = try await node.json("agreements", "show", id)
                let approval = try await node.ctl("agreements", "approve", id, "--terms-hash", view.termsHash)
                #expect(approval.succeeded, "\(node.organisation): \(approval.stderr)")
            }
            try await eventually("active on both", timeout: .seconds(60)) {
                let views = [try await acme.json("agreements", "show", id, as: AgreementView.self), try await globex.json("agreements", "show", id, as: AgreementView.self)]
                return views.allSatisfy { $0.status == "active" && $0.approvals.count == 2 && $0.approvals.allSatisfy(\.fresh) }
            }
            let listed: [AgreementListItem] = try await acme.json("agreements", "list", "--status", "active")
            #expect(listed.map(\.id) == [id])

            // initech is connected to both and is no party: nothing of it, anywhere in its folder.
            let initechList: [AgreementListItem] = try await initech.json("agreements", "list")
            #expect(initechList.isEmpty)
            let status: NodeStatus = try await initech.json("status")
            #expect(status.peers.filter(\.connected).count == 2, "initech is connected to acme and globex")
            let shown = try await initech.ctl("agreements", "show", id)
            #expect(shown.termination == .exited(1) && shown.stderr.contains("holds no agreement"))
            let traces = initech.allBytes()
            #expect(traces.count > 16_384, "initech's database, WAL and log were read")
            let uuid = try #require(UUID(uuidString: id))
            let uuidBytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
            #expect(!traces.contains(subsequence: Array(id.utf8)), "initech's files contain the agreement id as text")
            #expect(!traces.contains(subsequence: uuidBytes), "initech's files contain the agreement id's bytes")
            #expect(!traces.contains(subsequence: Array("Joint GPU".utf8)), "initech's files contain the title")

            // A change of terms after approval: both approvals stale on both nodes.
            #expect(try await acme.ctl("agreements", "set", id, "framework.serviceCoverage", "EU and UK, 24/7").succeeded)
            try await eventually("approvals stale on both", timeout: .seconds(60)) {
                let views = [try await acme.json("agreements", "show", id, as: AgreementView.self), try await globex.json("agreements", "show", id, as: AgreementView.self)]
                return views.allSatisfy { $0.status == "proposed" && $0.approvals.count == 2 && $0.approvals.allSatisfy { !$0.fresh } }
            }
            let human = try await globex.ctl("agreements", "show", id)
            #expect(human.stdout.contains("STALE"), "the human view says the approvals are stale")

            // Approving terms that have changed since they were read is refused.
            let stale = try await acme.ctl("agreements", "approve", id, "--terms-hash", created.change)
            #expect(stale.termination == .exited(1) && stale.stderr.contains("terms changed"))

            // SIGTERM: a clean stop, exit status 0, the admin socket removed.
            for node in nodes {
                #expect(try await node.stop(SIGTERM) == .exited(0), "\(node.organisation) did not exit 0 on SIGTERM")
                #expect(!FileManager.default.fileExists(atPath: node.socket))
                #expect(node.log.contains("accordd stopped cleanly"))
            }
        }
    }

    @Test("kill -9 during a burst of edits: after a restart every edit accordctl reported done is there, and the nodes converge")
    func killDuringBurst() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            let created: CreatedAgreement = try await acme.json(
                "agreements", "create", "--title", "Burst", "--category", "technicalResources", "--party", "acme", "--party", "globex"
            )
            let id = created.id
            try await eventually("globex has the agreement") { try await globex.ctl("agreements", "show", id).succeeded }

            // Notes on acme, one accordctl after another, on both nodes at once; acme is killed
            // while the burst goes on. An edit counts as done only when accordctl said so.
            let killAfter = 12
            let done = try await withThrowingTaskGroup(of: [String].self) { group in
                group.addTask {
                    var changes: [String] = []
                    for index in 0..<40 {
                        let result = try await acme.ctl("agreements", "note", id, "acme note \(index)", "--json")
                        if result.succeeded, let receipt = try? AdminAPI.decoder().decode(ChangeReceipt.self, from: Data(result.stdout.utf8)) {
                            changes.append(receipt.change)
                        }
                        if index == killAfter { _ = try await acme.stop(SIGKILL) }
                    }
                    return changes
                }
                group.addTask {
                    var changes: [String] = []
                    for index in 0..<20 {
                        let receipt: ChangeReceipt = try await globex.json("agreements", "note", id, "globex note \(index)")
                        changes.append(receipt.change)
                    }
                    return changes
                }
                var all: [String] = []
                for try await changes in group { all += changes }
                return all
            }
            #expect(done.count >= killAfter + 20, "the edits before the kill were reported done")
            #expect(done.count < 60, "acme was killed before its burst ended")

            try await acme.start()
            #expect(try await acme.ctl("sync", "--wait", "--timeout", "60").succeeded)
            try await eventually("converged", timeout: .seconds(60)) {
                let (a, g) = (try await acme.json("agreements", "show", id, as: AgreementView.self), try await globex.json("agreements", "show", id, as: AgreementView.self))
                return a.heads == g.heads && a.notes.count == g.notes.count
            }
            for node in nodes {
                let history: [HistoryItem] = try await node.json("agreements", "history", id)
                let present = Set(history.map(\.change))
                let missing = done.filter { !present.contains($0) }
                #expect(missing.isEmpty, "\(node.organisation) lacks \(missing.count) edit(s) accordctl reported done")
                #expect(history.count == Set(history.map(\.change)).count, "no change twice in \(node.organisation)'s history")
            }
        }
    }
}
