import AccordAdminAPI
import AccordTestSupport
import Foundation

/// `accordctl agreements import` of a CSV file into a real accordd, beside the bulk create
/// endpoint importing the same agreements in the same run (the path import builds on) and the
/// durable insert rate of this disk.
struct ImportBenchmark {
    let records: Int
    let binaries: String
    let report: BenchReport

    func run() async throws {
        let limits = try await SameRunLimits.measure(binaries: binaries, report: report)
        let folder = TestCertificates.temporaryFolder("accord-bench-import")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ports = try freePorts(2)
        let importer = try AccordProcess("acme", port: ports[0], binaries: binaries)
        let bulk = try AccordProcess("globex", port: ports[1], binaries: binaries)
        defer { for node in [importer, bulk] { node.remove() } }
        try await importer.start()
        try await bulk.start()

        // The file: agreements with two commitments each, as a spreadsheet would hold them.
        let rows = (0..<records).map { index in
            AgreementRecord(
                reference: "crm-\(index)", title: "Imported agreement \(index)", category: "technicalResources",
                parties: ["acme", "globex"], effectiveFrom: "2027-01-01", expiresOn: "2028-12-31",
                framework: ["technicalFit": "Acme hosts, Globex operates", "dataProtection": "EU only"],
                commitments: [
                    .init(by: "acme", kind: "freeResource", description: "\(index) GPU hours", dueDate: "2027-06-30"),
                    .init(by: "globex", kind: "customerAssistance", description: "Second-line support"),
                ]
            )
        }
        let file = "\(folder)/agreements.csv"
        try AgreementCSV.render(rows).write(toFile: file, atomically: true, encoding: .utf8)

        let importStart = ContinuousClock.now
        let result = try await Subprocess.run("\(binaries)/accordctl", ["agreements", "import", file, "--allow-unknown-party", "--socket", importer.socket], timeout: .seconds(600))
        let importSeconds = seconds(ContinuousClock.now - importStart)
        guard result.succeeded, result.stdout.contains("created \(records),") else { throw BenchFailure("import: \(result.stdout) \(result.stderr)") }

        // The same agreements through the bulk endpoint, from this process, 1,000 per request.
        let admin = bulk.admin()
        let bulkStart = ContinuousClock.now
        for start in stride(from: 0, to: records, by: 1000) {
            let request = BulkCreateRequest(agreements: rows[start..<min(start + 1000, records)].map {
                CreateAgreementRequest(
                    title: $0.title, category: $0.category, parties: $0.parties, framework: $0.framework, effectiveFrom: $0.effectiveFrom,
                    expiresOn: $0.expiresOn, allowUnknownParties: true
                )
            })
            let response = try admin.blockingRequest("POST", "/v1/agreements/bulk", body: Array(try AdminAPI.encoder().encode(request)))
            guard response.status == 200 else { throw BenchFailure("bulk: \(response.status)") }
        }
        let bulkSeconds = seconds(ContinuousClock.now - bulkStart)
        report.record(
            "import: accordctl agreements import of \(records) agreements (CSV, 2 commitments each)", importSeconds, "s",
            ratio: (importSeconds / bulkSeconds, "× bulk create of the same terms"), aim: "10,000 in < 5 s"
        )
        report.record("import: rate", Double(records) / importSeconds, "agreements/s", ratio: (Double(records) / importSeconds / limits.durableInsertsPerSecondBatched, "× durable inserts/s"))
        report.record("bulk create of the same terms (no commitments), same run", Double(records) / bulkSeconds, "agreements/s")

        // Again: every record is already present.
        let againStart = ContinuousClock.now
        let again = try await Subprocess.run("\(binaries)/accordctl", ["agreements", "import", file, "--allow-unknown-party", "--socket", importer.socket], timeout: .seconds(600))
        guard again.stdout.contains("already present \(records)") else { throw BenchFailure("re-import: \(again.stdout)") }
        report.record("import again: all \(records) already present", seconds(ContinuousClock.now - againStart), "s")
        try await importer.stop()
        try await bulk.stop()
    }
}
