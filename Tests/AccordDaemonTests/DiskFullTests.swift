import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// A node whose disk fills up while it runs (issue 17, "disk full"): its data directory on a small
/// tmpfs of the test's own.
@Suite("Disk full while running", .serialized)
struct DiskFullTests {
    @Test("edits on a full disk answer store-full and nothing acknowledged is lost; a partner's pushes wait; when space returns the node recovers by itself, without a restart, and sync resumes", .enabled(if: TmpfsMount.isAvailable))
    func diskFull() async throws {
        let mount = try TmpfsMount(size: "6m")
        defer { mount.unmount() }
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        acme.dataDirectory = "\(mount.path)/data"
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            _ = try await acme.waitForSession(with: "globex/node1")
            let id = try await acme.createAgreement("Full disk", parties: ["acme", "globex"])
            try await eventually("globex has it") { try await globex.agreementIDs().contains(id) }

            // Leave acme a little room, then write until the disk refuses.
            let filler = try mount.fill(leaving: 96 * 1024)
            var acknowledged: [String] = []
            var refusal: CommandResult?
            for index in 0..<400 {
                let text = "note \(index) " + String(repeating: "full disk ", count: 300)
                let result = try await acme.ctl("agreements", "note", id, text)
                if result.succeeded { acknowledged.append(text) } else { refusal = result; break }
            }
            let refused = try #require(refusal, "the disk never filled up")
            print("disk full after \(acknowledged.count) notes: \(refused.stderr.prefix(200))")
            #expect(refused.termination == .exited(1) && refused.stderr.contains("disk is full"), "\(refused.stderr)")
            let answer = try await acme.admin().post("/v1/agreements/\(id)/notes", json: #"{"text": "\#(String(repeating: "x", count: 3000))"}"#)
            #expect(answer.status == 503 && answer.text.contains("\"store-full\""), "the API answers 503 store-full: \(answer.status) \(answer.text)")
            #expect(!acknowledged.isEmpty)
            #expect(try await acme.metric("accord_store_write_failures_total", label: "code", "full") >= 2, "the failed writes are counted for the alert")
            // globex goes on writing; acme cannot store what it pushes for now.
            for index in 0..<5 { #expect(try await globex.ctl("agreements", "note", id, "from globex \(index)").succeeded) }
            #expect(try await acme.ctl("status").succeeded, "acme still answers")

            // Space returns: acme recovers by itself.
            try FileManager.default.removeItem(atPath: filler)
            try await eventually("acme takes edits again", timeout: .seconds(30)) {
                try await acme.ctl("agreements", "note", id, "after the disk was freed").succeeded
            }
            let expected = 1 + acknowledged.count + 5 + 1
            try await eventually("both hold every acknowledged change", timeout: .seconds(60)) {
                let (a, g) = (try await acme.json("agreements", "history", id, as: [HistoryItem].self), try await globex.json("agreements", "history", id, as: [HistoryItem].self))
                return a.count == expected && Set(a.map(\.change)) == Set(g.map(\.change))
            }
            let notes = try await acme.json("agreements", "show", id, as: AgreementView.self).notes.map(\.text)
            #expect(Set(acknowledged).isSubset(of: Set(notes)), "every acknowledged note is there")
            // Nothing half-written: the store passes its integrity check on a restart.
            _ = try await acme.stop()
            try await acme.start()
            #expect(try await acme.json("agreements", "history", id, as: [HistoryItem].self).count == expected)
        }
    }
}
