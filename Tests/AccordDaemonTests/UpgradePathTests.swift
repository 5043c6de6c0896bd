import AccordAdminAPI
import AccordSync
import AccordTestSupport
import Foundation
import Testing

/// Data and peers of earlier releases (docs/operations.md: upgrade).
///
/// `Tests/Fixtures/acme-node1-schema3.sqlite` is a data directory's database written by the
/// release that introduced schema 3 (acme/node1 of the example certificates), with what it
/// holds in `acme-node1-schema3.json`. Every later release must open it and find the same
/// agreements and histories: `ACCORD_WRITE_FIXTURES=1 swift test --filter UpgradePathTests`
/// writes a new fixture only when a release adds one (never overwrite an old fixture).
@Suite("Upgrade path", .serialized)
struct UpgradePathTests {
    static let fixtures = "\(TestCertificates.repository)/Tests/Fixtures"
    static let database = "\(fixtures)/acme-node1-schema3.sqlite"
    static let expectations = "\(fixtures)/acme-node1-schema3.json"

    /// What the fixture holds, as the admin API shows it.
    struct Expected: Codable, Equatable {
        struct Agreement: Codable, Equatable {
            var id: String
            var title: String?
            var status: String
            var parties: [String]
            var changes: [String]
        }

        var agreements: [Agreement]
    }

    @Test("accordd of this release opens the database an earlier release wrote, and finds every agreement and change")
    func opensEarlierDatabase() async throws {
        if ProcessInfo.processInfo.environment["ACCORD_WRITE_FIXTURES"] == "1", !FileManager.default.fileExists(atPath: Self.database) {
            try await Self.writeFixture()
        }
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: Self.expectations)))
        let acme = try DaemonNode("acme", port: try freePorts(1)[0])
        try await withNodes([acme]) {
            // The upgrade: the new accordd started on the old data directory.
            try FileManager.default.createDirectory(atPath: acme.dataDirectory, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Self.database, toPath: "\(acme.dataDirectory)/accord.sqlite")
            try await acme.start()
            #expect(try await Self.holdings(of: acme) == expected)
            let status: NodeStatus = try await acme.json("status")
            #expect(status.agreements == expected.agreements.count && status.rejected == 0)
            // Schema 5 made a table of commitments and filled it from the log: the fixture's one
            // commitment (no due date) is there, read with Python's sqlite3, not with Accord.
            _ = try await acme.stop()
            let count = try await Subprocess.run("/usr/bin/env", [
                "python3", "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM commitments').fetchone()[0])",
                "\(acme.dataDirectory)/accord.sqlite",
            ])
            #expect(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(count.stdout) \(count.stderr)")
        }
    }

    @Test("a peer that offers only another protocol version is refused with a clear reason, logged and counted")
    func otherProtocolVersion() async throws {
        let acme = try DaemonNode("acme", port: try freePorts(1)[0])
        acme.peers = [AccordProcess.Peer(organisation: "globex", port: try freePorts(1)[0])]
        try await withNodes([acme]) {
            try await acme.start()
            var client = try HostileClient(certificate: "globex-node1")
            // A version after this release's: 1...5 speaks 1 to 5 (docs/protocol.md).
            client.versions = 6...6
            let refusal = await #expect(throws: SessionError.self) { try await client.session(port: acme.port) { _ in } }
            #expect(refusal?.code == .versionMismatch && refusal?.message.contains("1...5") == true, "\(String(describing: refusal))")
            try await eventually("acme counted the refusal") {
                try await acme.metric("accord_connections_refused_total", reason: "version-mismatch") == 1
            }
            #expect(acme.log.contains("reason=version-mismatch"), "\(acme.logTail)")
        }
    }

    @Test("accordd --version and the version in status agree")
    func version() async throws {
        let acme = try DaemonNode("acme", port: try freePorts(1)[0])
        try await withNodes([acme]) {
            let printed = try await Subprocess.run(Binaries.accordd, ["--version"])
            try await acme.start()
            let status: NodeStatus = try await acme.json("status")
            #expect(printed.succeeded && printed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == status.version)
        }
    }

    /// Every agreement `node` holds with its history, sorted.
    static func holdings(of node: DaemonNode) async throws -> Expected {
        var agreements: [Expected.Agreement] = []
        for item in try await node.json("agreements", "list", as: [AgreementListItem].self) {
            let history: [HistoryItem] = try await node.json("agreements", "history", item.id)
            agreements.append(.init(id: item.id, title: item.title, status: item.status, parties: item.parties, changes: history.map(\.change)))
        }
        return Expected(agreements: agreements.sorted { $0.id < $1.id })
    }

    /// Writes the fixture with this release: acme and globex make agreements of every kind of
    /// edit, then acme's store is backed up (compacted) into the fixture.
    static func writeFixture() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            try await acme.waitForSession(with: "globex/node1")
            let active = try await acme.createAgreement("Joint support desk", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "set", active, "framework.serviceCoverage", "EU, 24/7").succeeded)
            #expect(try await acme.ctl("agreements", "commitment", active, "add", "--by", "acme", "--kind", "freeResource", "--description", "GPU hours").succeeded)
            #expect(try await acme.ctl("agreements", "note", active, "kick-off on Monday").succeeded)
            try await eventually("globex has it") { try await globex.agreementIDs().contains(active) }
            let synced = try await globex.ctl("sync", "--wait", "--timeout", "60")
            #expect(synced.succeeded, "\(synced.stdout) \(synced.stderr)")
            for node in nodes {
                let view: AgreementView = try await node.json("agreements", "show", active)
                #expect(try await node.ctl("agreements", "approve", active, "--terms-hash", view.termsHash).succeeded)
            }
            let ended = try await globex.createAgreement("Pilot", parties: ["globex", "acme"])
            try await eventually("acme has the pilot") { try await acme.agreementIDs().contains(ended) }
            #expect(try await globex.ctl("agreements", "terminate", ended, "--reason", "pilot over").succeeded)
            _ = try await acme.createAgreement("Draft, never approved", parties: ["acme", "globex"])
            #expect(try await acme.ctl("sync", "--wait", "--timeout", "60").succeeded)
            try FileManager.default.createDirectory(atPath: fixtures, withIntermediateDirectories: true)
            let backup = try await acme.ctl("backup", database)
            #expect(backup.succeeded, "\(backup.stderr)")
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try (encoder.encode(try await holdings(of: acme)) + Data("\n".utf8)).write(to: URL(fileURLWithPath: expectations))
        }
    }
}
