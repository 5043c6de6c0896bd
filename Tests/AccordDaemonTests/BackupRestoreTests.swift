import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// Losing a disk and coming back, on real accordd processes (docs/operations.md: back up and
/// restore, rebuild from partners).
@Suite("Backup, restore and rebuild", .serialized)
struct BackupRestoreTests {
    @Test("backup under a stream of edits, lose the data directory, restore: every change acknowledged before the backup is there at once, every later one comes back from the partner")
    func backupAndRestore() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        let backup = "\(acme.folder)/backups/acme.sqlite"
        try FileManager.default.createDirectory(atPath: "\(acme.folder)/backups", withIntermediateDirectories: true)
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            try await acme.waitForSession(with: "globex/node1")
            let id = try await acme.createAgreement("Backed up", parties: ["acme", "globex"])

            // Notes on acme, one after another, while the backup runs in the middle of them.
            let (beforeBackup, written, report) = try await withThrowingTaskGroup(of: Void.self) { group in
                let notes = NoteLog()
                group.addTask {
                    for index in 0..<60 {
                        let receipt: ChangeReceipt = try await acme.json("agreements", "note", id, "note \(index)")
                        await notes.append(receipt.change)
                    }
                }
                try await eventually("some notes are written") { await notes.count >= 15 }
                let acknowledged = await notes.all
                let report: BackupResult = try await acme.json("backup", backup)
                try await group.waitForAll()
                return (acknowledged, await notes.all, report)
            }
            #expect(report.path == backup && report.bytes > 0 && report.changes >= beforeBackup.count + 1)
            #expect((try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? Int) == 0o600, "owner-only")
            let again = try await acme.ctl("backup", backup)
            #expect(again.termination == .exited(1) && again.stderr.contains("exists already"), "\(again.stderr)")
            #expect(try await acme.ctl("sync", "--wait", "--timeout", "60").succeeded)

            // The disk is lost. Restored, first without partners: what the backup holds is there at once.
            try await Self.loseDiskAndRestore(acme, from: backup)
            let restored = Set(try await acme.json("agreements", "history", id, as: [HistoryItem].self).map(\.change))
            #expect(beforeBackup.allSatisfy(restored.contains), "every note acknowledged before the backup is in it")
            #expect(!written.allSatisfy(restored.contains), "notes after the backup come from the partner, not the backup")
            #expect(acme.log.contains("restored the data directory from a backup"))

            // With its partner again, it gets back everything that happened since.
            acme.peers = [globex.address]
            #expect(try await acme.reload().succeeded)
            try await eventually("every note is back", timeout: .seconds(60)) {
                let history = Set(try await acme.json("agreements", "history", id, as: [HistoryItem].self).map(\.change))
                return written.allSatisfy(history.contains)
            }

            // A restore never overwrites: the data directory holds a database now.
            try await acme.stop()
            acme.options = ["--restore", backup]
            let refused = try acme.launch()
            acme.options = []
            #expect(try await refused.wait(timeout: .seconds(30)) == .exited(73))
            #expect(acme.log.contains("holds a database already"), "\(acme.logTail)")
        }
    }

    @Test("rebuild from partners: a node with its identity and an empty data directory gets back every agreement of its organisation, its own changes included, and never reuses a stamp")
    func rebuild() async throws {
        let nodes = try daemonMesh(["acme", "globex", "initech"])
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            try await acme.waitForSession(with: "globex/node1")
            try await acme.waitForSession(with: "initech/node1")
            let withGlobex = try await acme.createAgreement("Acme and Globex", parties: ["acme", "globex"])
            let withInitech = try await acme.createAgreement("Acme and Initech", parties: ["acme", "initech"])
            let byGlobex = try await globex.createAgreement("Globex's", parties: ["globex", "acme"])
            let notOurs = try await globex.createAgreement("Not acme's", parties: ["globex", "initech"])
            try await eventually("acme has globex's agreement") { try await acme.agreementIDs().contains(byGlobex) }
            for index in 0..<5 { #expect(try await acme.ctl("agreements", "note", byGlobex, "acme's note \(index)").succeeded) }
            #expect(try await acme.ctl("sync", "--wait", "--timeout", "60").succeeded)
            var before: [String: [HistoryItem]] = [:]
            for id in [withGlobex, withInitech, byGlobex] { before[id] = try await acme.json("agreements", "history", id) }

            try await acme.stop()
            try FileManager.default.removeItem(atPath: acme.dataDirectory)
            try await acme.start()
            try await eventually("acme got its agreements back", timeout: .seconds(60)) {
                try await acme.agreementIDs() == [withGlobex, withInitech, byGlobex]
            }
            #expect(!(try await acme.agreementIDs()).contains(notOurs))
            for (id, history) in before {
                try await eventually("the whole history of \(id)") {
                    Set(try await acme.json("agreements", "history", id, as: [HistoryItem].self).map(\.change)) == Set(history.map(\.change))
                }
            }

            // A new change gets a stamp after every one this node made before the loss.
            let receipt: ChangeReceipt = try await acme.json("agreements", "note", byGlobex, "after the rebuild")
            let history: [HistoryItem] = try await acme.json("agreements", "history", byGlobex)
            let own = history.filter { $0.author == "acme/node1" }
            let latest = try #require(own.first { $0.change == receipt.change })
            let stampOf: (HistoryItem) -> Date? = { ISO8601DateFormatter.withFractions.date(from: $0.at) }
            let earlier = own.filter { $0.change != receipt.change }.compactMap(stampOf)
            #expect(earlier.count == 5 && earlier.allSatisfy { $0 < stampOf(latest)! })
            #expect(Set(history.map(\.change)).count == history.count)
        }
    }

    @Test("a node restored from a backup taken before its organisation withdrew from an agreement learns of the withdrawal: the partner, which had it acknowledged, repairs what a former party is owed")
    func restoredFormerParty() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        let backup = "\(acme.folder)/before-withdrawal.sqlite"
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            try await acme.waitForSession(with: "globex/node1")
            let id = try await acme.createAgreement("Acme leaves", parties: ["acme", "globex", "initech"])
            try await eventually("globex has it") { try await globex.agreementIDs().contains(id) }
            let _: BackupResult = try await acme.json("backup", backup)
            #expect(try await acme.ctl("agreements", "party", id, "withdraw", "acme").succeeded)
            // Rounds are clean again after a withdrawal: acme no longer compares its former-party copy.
            #expect(try await acme.ctl("sync", "--wait", "--timeout", "60").succeeded)
            try await eventually("globex knows acme withdrew") {
                try await globex.json("agreements", "show", id, as: AgreementView.self).parties.sorted() == ["globex", "initech"]
            }
            // Written after acme left: the repair of a former party must never carry it.
            let afterWithdrawal: ChangeReceipt = try await globex.json("agreements", "note", id, "after acme left")

            // acme's disk is lost; the backup from before the withdrawal comes back. globex recorded
            // the withdrawal as acknowledged, so its live stream owes acme nothing of it any more.
            try await Self.loseDiskAndRestore(acme, from: backup)
            #expect(try await acme.json("agreements", "show", id, as: AgreementView.self).parties.contains("acme"))
            acme.peers = [globex.address]
            #expect(try await acme.reload().succeeded)
            try await eventually("acme learns again that it withdrew", timeout: .seconds(60)) {
                try await acme.json("agreements", "show", id, as: AgreementView.self).parties.sorted() == ["globex", "initech"]
            }
            let history = try await acme.json("agreements", "history", id, as: [HistoryItem].self).map(\.change)
            #expect(!history.contains(afterWithdrawal.change), "a former party is repaired up to its withdrawal, never beyond")
        }
    }

    /// Stops `node`, deletes its data directory and starts it from `backup`, without partners.
    static func loseDiskAndRestore(_ node: DaemonNode, from backup: String) async throws {
        try await node.stop()
        try FileManager.default.removeItem(atPath: node.dataDirectory)
        node.peers = []
        node.options = ["--restore", backup]
        try await node.start()
        node.options = []
    }
}

/// The notes a writer task has had acknowledged, in order.
private actor NoteLog {
    private(set) var all: [String] = []
    var count: Int { all.count }
    func append(_ change: String) { all.append(change) }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
