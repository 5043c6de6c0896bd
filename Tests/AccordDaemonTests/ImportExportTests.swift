import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// `accordctl agreements import` and `export` against real accordd processes.
@Suite("Import and export", .serialized)
struct ImportExportTests {
    /// `count` agreements between acme and globex, with awkward text (commas, quotes, line breaks).
    static func records(_ count: Int, prefix: String = "Row") -> [AgreementRecord] {
        (0..<count).map { (index: Int) -> AgreementRecord in
            var commitments: [AgreementRecord.Commitment] = [
                .init(by: "acme", kind: "freeResource", description: "\(index * 10) GPU hours", dueDate: "2027-06-30", amount: "EUR \(index)000.5"),
                .init(by: "globex", kind: "customerAssistance", description: "Second-line support, 8–18 CET"),
            ]
            if index % 3 == 0 {
                commitments.append(.init(by: "globex", kind: "other", description: "Quarterly risk report", every: "quarterly", from: "2027-03-31", until: "2027-12-31"))
            }
            var record = AgreementRecord(
                title: "\(prefix) \(index): \"GPU\", storage\nand support", category: ["technicalResources", "fullSupport", "financialSupport"][index % 3],
                parties: index % 2 == 0 ? ["acme", "globex"] : ["acme", "globex", "initech"],
                effectiveFrom: "2027-01-01", expiresOn: index % 5 == 0 ? nil : "2028-12-31",
                framework: ["technicalFit": "Acme hosts; Globex operates", "dataProtection": "EU only"],
                commitments: index % 4 == 0 ? nil : commitments
            )
            record.noticePeriod = index % 2 == 0 ? 30 : nil
            return record
        }
    }

    static func write(_ text: String, _ path: String) throws { try text.write(toFile: path, atomically: true, encoding: .utf8) }

    @Test("CSV import: every record checked first, a bad line refused by line and field without stopping the others; a second run creates nothing twice; dry run and all-or-nothing create nothing")
    func importCSV() async throws {
        let nodes = try daemonMesh(["acme"])
        let acme = nodes[0]
        try await withNodes(nodes) {
            try await acme.start()
            var records = Self.records(120)
            records[57].category = "gifts"
            let file = "\(acme.folder)/agreements.csv"
            try Self.write(AgreementCSV.render(records), file)

            let dry = try await acme.ctl("agreements", "import", file, "--dry-run", "--allow-unknown-party")
            #expect(dry.termination == .exited(1) && dry.stdout.contains("valid 119, refused 1; dry run"), "\(dry.stdout)")
            let allOrNothing = try await acme.ctl("agreements", "import", file, "--all-or-nothing", "--allow-unknown-party")
            #expect(allOrNothing.stdout.contains("nothing was created"), "\(allOrNothing.stdout)")
            #expect(try await acme.agreementIDs().isEmpty)

            let first = try await acme.ctl("agreements", "import", file, "--allow-unknown-party")
            #expect(first.termination == .exited(1), "a refused record makes the exit status 1")
            // Line 1 is the header; record 57 starts on line 2 + 57 × 2 (each title holds a line break).
            #expect(first.stdout.contains("line \(2 + 57 * 2): refused: category: \"gifts\""), "\(first.stdout)")
            #expect(first.stdout.contains("created 119, already present 0, refused 1"), "\(first.stdout)")
            #expect(try await acme.agreementIDs().count == 119)

            let again = try await acme.ctl("agreements", "import", file, "--allow-unknown-party")
            #expect(again.stdout.contains("created 0, already present 119, refused 1"), "\(again.stdout)")
            #expect(try await acme.agreementIDs().count == 119)
            records[57].category = "fullSupport"
            try Self.write(AgreementCSV.render(records), file)
            let fixed = try await acme.ctl("agreements", "import", file, "--allow-unknown-party")
            #expect(fixed.succeeded && fixed.stdout.contains("created 1, already present 119, refused 0"), "\(fixed.stdout)")
        }
    }

    @Test("JSON Lines: a malformed line is named with its field before anything is sent")
    func jsonLinesErrors() async throws {
        let nodes = try daemonMesh(["acme"])
        let acme = nodes[0]
        try await withNodes(nodes) {
            try await acme.start()
            let file = "\(acme.folder)/agreements.jsonl"
            try Self.write("""
                {"title": "One", "category": "fullSupport", "parties": ["acme", "globex"]}

                {"category": "fullSupport", "parties": ["acme", "globex"]}
                """, file)
            let result = try await acme.ctl("agreements", "import", file)
            #expect(result.termination == .exited(1))
            #expect(result.stderr.contains("agreements.jsonl: line 3: title: is required"), "\(result.stderr)")
            #expect(try await acme.agreementIDs().isEmpty, "nothing was sent")
        }
    }

    @Test("export → import on another consortium's node → export again gives the same records, terms and references; CSV and JSON Lines carry the same")
    func roundTrip() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let elsewhere = try daemonMesh(["acme"])
        try await withNodes(nodes + elsewhere) {
            for node in nodes + elsewhere { try await node.start() }
            let (acme, other) = (nodes[0], elsewhere[0])
            let file = "\(acme.folder)/source.jsonl"
            let encoder = JSONEncoder()
            try Self.write(try Self.records(40).map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n"), file)
            #expect(try await acme.ctl("agreements", "import", file, "--allow-unknown-party").succeeded)
            let id = try #require(try await acme.agreementIDs().first)
            #expect(try await acme.ctl("agreements", "approve", id).succeeded, "approvals are not exported, and do not disturb it")

            let exported = "\(acme.folder)/export.jsonl"
            #expect(try await acme.ctl("agreements", "export", "--out", exported).succeeded)
            let csv = "\(acme.folder)/export.csv"
            #expect(try await acme.ctl("agreements", "export", "--out", csv).succeeded)
            let fromJSON = try String(contentsOfFile: exported, encoding: .utf8).split(separator: "\n").map {
                try JSONDecoder().decode(AgreementRecord.self, from: Data($0.utf8))
            }
            let fromCSV = try AgreementCSV.parse(String(contentsOfFile: csv, encoding: .utf8)).map(\.record)
            #expect(fromJSON.count == 40 && fromJSON == fromCSV, "CSV and JSON Lines hold the same records")
            #expect(fromJSON.allSatisfy { $0.reference?.hasPrefix("sha256:") == true }, "the references it was imported under")

            let imported = try await other.ctl("agreements", "import", exported, "--allow-unknown-party")
            #expect(imported.succeeded && imported.stdout.contains("created 40"), "\(imported.stdout)")
            let reexported = try await other.ctl("agreements", "export")
            let again = try reexported.stdout.split(separator: "\n").map { try JSONDecoder().decode(AgreementRecord.self, from: Data($0.utf8)) }
            #expect(Set(again.map(\.reference)) == Set(fromJSON.map(\.reference)))
            let byReference = Dictionary(uniqueKeysWithValues: fromJSON.map { ($0.reference!, $0) })
            #expect(again.allSatisfy { byReference[$0.reference!] == $0 }, "every record comes back as it went")
            // The terms other than the agreement id (which every approval binds, so that an
            // approval cannot be moved to another agreement) are the same on both sides.
            let originals = try await acme.json("agreements", "list", as: [AgreementListItem].self)
            let copies = try await other.json("agreements", "list", as: [AgreementListItem].self)
            #expect(Set(originals.map { $0.title ?? "" }) == Set(copies.map { $0.title ?? "" }))
            let reimport = try await other.ctl("agreements", "import", exported, "--allow-unknown-party")
            #expect(reimport.stdout.contains("created 0, already present 40"), "\(reimport.stdout)")
        }
    }
}

@Suite("Agreement CSV")
struct AgreementCSVTests {
    @Test("records survive CSV with commas, quotes and line breaks; columns in any order; errors name the line and the column")
    func codec() throws {
        let records = ImportExportTests.records(9)
        let text = AgreementCSV.render(records)
        #expect(try AgreementCSV.parse(text).map(\.record) == records)
        #expect(try AgreementCSV.parse(text).map(\.line) == (0..<9).map { 2 + $0 * 2 }, "a record's line is where it starts")
        let reordered = "parties,title,category\nacme;globex,\"Quoted, \"\"title\"\"\",fullSupport\n"
        #expect(try AgreementCSV.parse(reordered).first?.record.title == "Quoted, \"title\"")
        #expect(throws: AgreementCSV.Failures([AgreementCSV.Failure(line: 1, field: "titel", message: "unknown column; columns: reference, title, category, parties, effective_from, expires_on, value_alignment, technical_fit, service_coverage, data_protection, return_mechanism, notice_period, commitment_N_by|kind|description|due|amount|every|from|until")])) {
            try AgreementCSV.parse("titel,category,parties\n")
        }
        #expect(throws: AgreementCSV.Failures([AgreementCSV.Failure(line: 3, field: "commitment_1_kind", message: "a commitment needs by, kind and description")])) {
            try AgreementCSV.parse("title,category,parties,commitment_1_by,commitment_1_kind,commitment_1_description\nA,fullSupport,acme,,,\nB,fullSupport,acme,acme,,x\n")
        }
        #expect(throws: AgreementCSV.Failures([AgreementCSV.Failure(line: 2, field: nil, message: "a quoted field is not closed")])) {
            try AgreementCSV.parse("title,category,parties\n\"A,fullSupport,acme\n")
        }
        // Every bad row of a file in one run: a short row, a stray quote, an empty required field.
        #expect(throws: AgreementCSV.Failures([
            AgreementCSV.Failure(line: 2, field: nil, message: "2 fields, but the header has 3"),
            AgreementCSV.Failure(line: 3, field: nil, message: "a quote inside an unquoted field"),
            AgreementCSV.Failure(line: 4, field: "category", message: "is empty"),
        ])) {
            try AgreementCSV.parse("title,category,parties\nA,fullSupport\nB\"x,fullSupport,acme\nC,,acme\nD,fullSupport,acme\n")
        }
    }
}
