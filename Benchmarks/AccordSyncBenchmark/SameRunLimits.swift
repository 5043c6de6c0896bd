import AccordCrypto
import AccordModel
import AccordSync
import Dispatch
import Foundation

/// The physical limits the process-mode figures are measured against, in the same run: how fast
/// this machine verifies signatures on all its cores, commits to SQLite durably, and makes a
/// round trip over loopback TLS. A figure divided by its limit stays comparable from day to day.
struct SameRunLimits {
    /// P-256 verifications of signed changes per second, every core busy.
    var verificationsPerSecond: Double
    /// Durable SQLite inserts of the same ~1.2 KB rows, one transaction per 1000 and per row.
    var durableInsertsPerSecondBatched: Double
    var durableCommitsPerSecond: Double
    /// One 64-byte request and response over mutual TLS 1.3 on loopback, in milliseconds.
    var tlsRoundTripMilliseconds: Double

    /// The time every core needs to verify `count` signatures: the floor of catch-up.
    func verificationFloor(_ count: Int) -> Double { Double(count) / verificationsPerSecond }

    static func measure(binaries: String, report: BenchReport) async throws -> SameRunLimits {
        let verifications = try verificationRate()
        report.record("limit: P-256 verify, all \(ProcessInfo.processInfo.activeProcessorCount) cores", verifications, "changes/s")
        // The store and TLS benchmarks measure the raw limits; they run here as they do alone.
        struct StoreReport: Decodable {
            struct Row: Decodable {
                let batchSize: Int
                let concurrentCallers: Int
                let rawInsertsPerSecond: Double?
            }

            let rows: [Row]
        }
        struct TLSReport: Decodable { let roundTripsPerSecond: Double }
        let store = try await run(StoreReport.self, binaries + "/accord-store-bench", ["--changes", "20000", "--unbatched-changes", "1000"])
        func raw(batch: Int) -> Double {
            store.rows.first { $0.batchSize == batch && $0.concurrentCallers == 1 }?.rawInsertsPerSecond ?? 0
        }
        let batched = raw(batch: 1000)
        let commits = raw(batch: 1)
        report.record("limit: durable SQLite inserts, 1000 per commit", batched, "rows/s")
        report.record("limit: durable SQLite commits, 1 row each", commits, "commits/s")
        let tls = try await run(TLSReport.self, binaries + "/accord-tls-bench", ["--megabytes", "8", "--round-trips", "5000", "--handshakes", "20", "--certificates", exampleCertificates])
        let roundTrip = 1000 / tls.roundTripsPerSecond
        report.record("limit: loopback TLS 1.3 round trip, 64 B", roundTrip, "ms")
        return SameRunLimits(
            verificationsPerSecond: verifications, durableInsertsPerSecondBatched: batched, durableCommitsPerSecond: commits,
            tlsRoundTripMilliseconds: roundTrip
        )
    }

    /// Verifies 4,000 signed genesis changes on every core at once.
    private static func verificationRate() throws -> Double {
        let signer = try NodeCredentials("acme-node1", in: exampleCertificates).signer
        var clock = HybridLogicalClock(node: signer.node)
        let samples = try (0..<4000).map { index in try signer.sign(Change.genesis(stamp: clock.stamp(physicalMillis: unixMillis()), edits: benchmarkTerms(index))) }
        let verifier = ChangeVerifier(directory: StaticAuthorDirectory([signer.node: signer.publicKey]))
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let start = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: cores) { core in
            for index in stride(from: core, to: samples.count, by: cores) { _ = try? verifier.verify(samples[index].signed) }
        }
        return Double(samples.count) / seconds(ContinuousClock.now - start)
    }

    /// Runs a benchmark executable with `--json` and decodes what it wrote.
    private static func run<Report: Decodable>(_ type: Report.Type, _ executable: String, _ arguments: [String]) async throws -> Report {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("accord-limit-\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + ["--json", output]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
        guard process.terminationStatus == 0 else { throw BenchFailure("\(executable) exited with \(process.terminationStatus)") }
        return try JSONDecoder().decode(Report.self, from: Data(contentsOf: URL(fileURLWithPath: output)))
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// About 1 KB of terms: a title, a category, two parties and a framework text.
func benchmarkTerms(_ index: Int) -> [Edit] {
    [
        .set(.title, .text("Technology partnership \(index)")), .set(.category, .category(.technicalResources)),
        .addParty("acme"), .addParty("globex"),
        .set(.framework(.serviceCoverage), .text(benchmarkFramework(index))),
    ]
}

func benchmarkFramework(_ index: Int) -> String {
    String(repeating: "Shared resources, support levels and cost split, clause \(index). ", count: 14)
}
