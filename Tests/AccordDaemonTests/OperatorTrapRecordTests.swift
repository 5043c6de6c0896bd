import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// What Accord tells people about their records (issue "operator traps", points 6–8), through
/// real accordd processes and the real accordctl: imports that tell the truth, business checks on
/// every path that writes, tables that survive line breaks, deadlines that mean something.
@Suite("Operator traps: imports, business checks, deadlines and the small things", .serialized)
struct OperatorTrapRecordTests {
    private static func write(_ text: String, to path: String) throws { try text.write(toFile: path, atomically: true, encoding: .utf8) }

    @Test("import: a dry run refuses what the real run refuses and finds what is present; the node's own export imports as present; a corrected row differs; the reference is shown and finds the agreement; every syntax error is reported at once")
    func importTellsTheTruth() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let acme = nodes[0]
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            let header = "reference,title,category,parties,expires_on"
            let csv = "\(acme.folder)/crm.csv"
            try Self.write("\(header)\ncrm-4701,GPU leasing,financialSupport,acme;globex,2028-06-30\ncrm-4702,Alone,fullSupport,acme,\n", to: csv)

            let dry = try await acme.ctl("agreements", "import", csv, "--dry-run")
            #expect(dry.termination == .exited(1), "the one-party record is refused by the dry run: \(dry.stdout)")
            #expect(dry.stdout.contains("line 3: refused:") && dry.stdout.contains("binds at least 2"), "\(dry.stdout)")
            let real = try await acme.ctl("agreements", "import", csv)
            #expect(real.stdout.contains("line 3: refused:") && real.stdout.contains("binds at least 2"), "the real run says the same: \(real.stdout)")
            #expect(real.stdout.contains("created 1, already present 0"), "\(real.stdout)")
            let again = try await acme.ctl("agreements", "import", csv, "--dry-run")
            #expect(again.stdout.contains("created 0, already present 1"), "a dry run sees what is there: \(again.stdout)")

            // The reference is shown, listed and finds the agreement.
            let shown = try await acme.ctl("agreements", "show", "crm-4701")
            #expect(shown.succeeded && shown.stdout.contains("reference:") && shown.stdout.contains("crm-4701"), "\(shown.stdout)\(shown.stderr)")
            let listed: [AgreementListItem] = try await acme.json("agreements", "list")
            let imported = try #require(listed.first { $0.reference == "crm-4701" })
            #expect(try await acme.json("agreements", "show", "crm-4701", as: AgreementView.self).id == imported.id)

            // The node's own export, agreements made here included, imports as present.
            let made = try await acme.createAgreement("Made on acme", parties: ["acme", "globex"])
            #expect(try await acme.agreementIDs().contains(made))
            let export = "\(acme.folder)/export.jsonl"
            #expect(try await acme.ctl("agreements", "export", "--out", export).succeeded)
            let reimported = try await acme.ctl("agreements", "import", export)
            let exportedText = try String(contentsOfFile: export, encoding: .utf8)
            #expect(reimported.succeeded && reimported.stdout.contains("created 0, already present 2"), "\(reimported.stdout) \(exportedText)")
            #expect(try await acme.agreementIDs().count == 2)

            // A corrected row for an existing reference is reported, not silently skipped.
            try Self.write("\(header)\ncrm-4701,GPU leasing (renewed),financialSupport,acme;globex,2029-06-30\n", to: csv)
            let corrected = try await acme.ctl("agreements", "import", csv)
            #expect(corrected.termination == .exited(1), "\(corrected.stdout)")
            #expect(corrected.stdout.contains("line 2: differs:") && corrected.stdout.contains("title (\"GPU leasing\" here, \"GPU leasing (renewed)\" in the record)"), "\(corrected.stdout)")
            #expect(corrected.stdout.contains("expiresOn"), "\(corrected.stdout)")
            #expect(try await acme.json("agreements", "show", "crm-4701", as: AgreementView.self).title == "GPU leasing", "nothing was changed")

            // Every syntax error of a file, in one run.
            try Self.write("\(header)\nA,One,fullSupport\nB,Two\"x,fullSupport,acme;globex,\nC,,fullSupport,acme;globex,\n", to: csv)
            let broken = try await acme.ctl("agreements", "import", csv)
            #expect(broken.termination == .exited(1))
            for line in ["line 2: 3 fields", "line 3: a quote inside an unquoted field", "line 4, title: is empty", "nothing was imported (3 error(s))"] {
                #expect(broken.stderr.contains(line), "\(line): \(broken.stderr)")
            }
        }
    }

    @Test("business checks on every path that writes: a term that ends before it starts, a commitment owed by a non-party, a misspelt party (unless allowed on purpose) are refused by create, set, commitment, party and import")
    func businessChecks() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let acme = nodes[0]
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            let create = ["agreements", "create", "--title", "Checked", "--category", "fullSupport", "--party", "acme", "--party", "globex"]
            let inverted = try await acme.ctl(create + ["--effective-from", "2027-01-01", "--expires-on", "2026-06-30"])
            #expect(inverted.termination == .exited(1) && inverted.stderr.contains("expiresOn: 2026-06-30 is before effectiveFrom 2027-01-01"), "\(inverted.stderr)")
            let misspelt = try await acme.ctl(["agreements", "create", "--title", "Typo", "--category", "fullSupport", "--party", "acme", "--party", "contosso"])
            #expect(misspelt.termination == .exited(1) && misspelt.stderr.contains("\"contosso\" is not an organisation this node knows"), "\(misspelt.stderr)")
            #expect(try await acme.ctl(["agreements", "create", "--title", "New partner", "--category", "fullSupport", "--party", "acme", "--party", "contosso", "--allow-unknown-party"]).succeeded)

            let id = try await acme.createAgreement("Checked", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "set", id, "effectiveFrom", "2027-01-01").succeeded)
            let set = try await acme.ctl("agreements", "set", id, "expiresOn", "2026-12-31")
            #expect(set.termination == .exited(1) && set.stderr.contains("is before effectiveFrom"), "\(set.stderr)")
            let owed = try await acme.ctl("agreements", "commitment", id, "add", "--by", "initech", "--kind", "other", "--description", "x")
            #expect(owed.termination == .exited(1) && owed.stderr.contains("by: initech owes commitment") && owed.stderr.contains("is not a party"), "\(owed.stderr)")
            let party = try await acme.ctl("agreements", "party", id, "add", "contosso")
            #expect(party.termination == .exited(1) && party.stderr.contains("is not an organisation this node knows"), "\(party.stderr)")
            let file = "\(acme.folder)/typo.jsonl"
            try Self.write(#"{"reference":"t1","title":"Typo","category":"fullSupport","parties":["acme","contosso"]}"# + "\n", to: file)
            let imported = try await acme.ctl("agreements", "import", file)
            #expect(imported.termination == .exited(1) && imported.stdout.contains("is not an organisation this node knows"), "\(imported.stdout)")
            #expect(try await acme.ctl("agreements", "import", file, "--allow-unknown-party").succeeded)

            // A description with line breaks keeps each table row on one line.
            let multiLine = "First line\nsecond line\tand a tab"
            #expect(try await acme.ctl("agreements", "commitment", id, "add", "--by", "globex", "--kind", "other", "--description", multiLine, "--due", "2026-12-20").succeeded)
            let shown = try await acme.ctl("agreements", "show", id)
            #expect(shown.stdout.split(separator: "\n").contains { $0.contains("First line ⏎ second line and a tab") }, "\(shown.stdout)")
            #expect(!shown.stdout.split(separator: "\n").contains { $0.hasPrefix("second line") })
        }
    }

    @Test("deadlines: a never-approved draft's commitment is not overdue; due prints ids that show takes and filters what we owe; the text status shows the counts; a healthy start logs no refusal at notice level")
    func deadlinesAndSmallThings() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            try await acme.waitForSession(with: "globex/node1", lasting: true)
            let id = try await acme.createAgreement("Late draft", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "commitment", id, "add", "--by", "acme", "--kind", "other", "--description", "ours", "--due", "2020-01-01").succeeded)
            #expect(try await acme.ctl("agreements", "commitment", id, "add", "--by", "globex", "--kind", "other", "--description", "theirs", "--due", "2020-01-02").succeeded)
            var status: NodeStatus = try await acme.json("status")
            #expect(status.commitmentsOverdue == 0, "a draft nobody approved binds nobody")
            #expect(try await acme.json("agreements", "due", as: DeadlinesResponse.self).deadlines.isEmpty)

            #expect(try await acme.ctl("agreements", "approve", id).succeeded)
            status = try await acme.json("status")
            #expect(status.commitmentsOverdue == 2)
            let text = try await acme.ctl("status")
            #expect(text.stdout.contains("deadlines:") && text.stdout.contains("2 commitment(s) overdue"), "\(text.stdout)")
            let due = try await acme.ctl("agreements", "due", "--ours")
            let rows = due.stdout.split(separator: "\n").dropFirst()
            #expect(rows.count == 1 && rows.first?.contains("ours") == true && rows.first?.contains(id) == true, "\(due.stdout)")
            let printedID = try #require(rows.first?.split(separator: " ").first { UUID(uuidString: String($0)) != nil }, "\(due.stdout)")
            #expect(try await acme.ctl("agreements", "show", String(printedID)).succeeded, "the id due prints is one show takes")
            #expect(try await acme.json("agreements", "due", "--owed-by", "globex", as: DeadlinesResponse.self).deadlines.map(\.description) == ["theirs"])

            for node in [acme, globex] {
                let notices = node.log.split(separator: "\n").filter { $0.contains("already-in-session") && $0.contains("notice") }
                #expect(notices.isEmpty, "\(node.label): \(notices)")
            }
        }
    }

    @Test("the shipped files: the systemd unit reloads and may write the backup folder; make-certs.sh takes the SAN and prints only help; [console] is in the README's table and the example configuration; the metric help and the admin API docs say what the product does")
    func shippedFiles() async throws {
        let repository = TestCertificates.repository
        func read(_ path: String) throws -> String { try String(contentsOfFile: "\(repository)/\(path)", encoding: .utf8) }
        let unit = try read("deploy/systemd/accordd.service")
        #expect(unit.contains("ExecReload=/bin/kill -HUP $MAINPID"))
        let writable = try #require(unit.split(separator: "\n").first { $0.hasPrefix("ReadWritePaths=") })
        let operations = try read("docs/operations.md")
        #expect(operations.contains("accordctl backup /var/backups/accord/") && writable.contains("/var/backups/accord"), "the documented backup folder is writable: \(writable)")
        #expect(try read("README.md").contains("| `[console] address`"))
        #expect(try read("deploy/accordd.example.toml").contains("[console]"))
        #expect(!(try read("docs/admin-api.md")).contains("`pending`"), "the status is proposed")

        let help = try await Subprocess.run("/bin/bash", [TestCertificates.makeCerts, "--help"])
        #expect(help.succeeded && help.stdout.contains("--san SAN") && !help.stdout.contains("set -euo"), "\(help.stdout)")
        let folder = TestCertificates.temporaryFolder("accord-san")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await TestCertificates.make(["-o", folder, "--san", "DNS:accord.acme.example,IP:203.0.113.7", "acme:node1"])
        let san = try await Subprocess.run("/usr/bin/openssl", ["x509", "-in", "\(folder)/acme-node1.pem", "-noout", "-ext", "subjectAltName"])
        #expect(san.stdout.contains("DNS:accord.acme.example") && san.stdout.contains("IP Address:203.0.113.7"), "\(san.stdout)")

        let nodes = try daemonMesh(["acme"])
        try await withNodes(nodes) {
            try await nodes[0].start()
            let metrics = try await nodes[0].admin().get("/metrics").text
            let help = try #require(metrics.split(separator: "\n").first { $0.hasPrefix("# HELP accord_connections_refused_total ") })
            #expect(help.contains("accepted or dialled"), "\(help)")
        }
    }
}
