// Durable apply throughput of the node store, beside raw SQLite inserts of the same bytes with the
// same durability, measured in the same run on the same machine.
//
// Usage: accord-store-bench [--changes N] [--json PATH]
// Prints a table; writes the figures as JSON (default benchmarks-store.json).
import AccordCrypto
import AccordModel
import AccordStore
import CSQLite
import Foundation
import NIOConcurrencyHelpers

struct Options {
    var changes = 100_000
    var unbatchedChanges = 5_000
    var json = "benchmarks-store.json"

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--changes": changes = Int(iterator.next() ?? "") ?? changes
            case "--unbatched-changes": unbatchedChanges = Int(iterator.next() ?? "") ?? unbatchedChanges
            case "--json": json = iterator.next() ?? json
            default:
                FileHandle.standardError.write(Data("usage: accord-store-bench [--changes N] [--unbatched-changes N] [--json PATH]\n".utf8))
                exit(64)
            }
        }
    }
}

struct Row: Encodable {
    let scenario: String
    let batchSize: Int
    let concurrentCallers: Int
    let changes: Int
    let seconds: Double
    var changesPerSecond: Double { Double(changes) / seconds }
    let rawInsertsPerSecond: Double?

    enum CodingKeys: String, CodingKey {
        case scenario, batchSize, concurrentCallers, changes, seconds, changesPerSecond, rawInsertsPerSecond
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(scenario, forKey: .scenario)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encode(concurrentCallers, forKey: .concurrentCallers)
        try container.encode(changes, forKey: .changes)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(changesPerSecond, forKey: .changesPerSecond)
        try container.encodeIfPresent(rawInsertsPerSecond, forKey: .rawInsertsPerSecond)
    }
}

let options = Options(CommandLine.arguments)
/// The highest resident size sampled while stores were being written.
let storeResident = NIOLockedValueBox(0)
let author = NodeID(organisation: "globex", name: "bench")!
let signer = ChangeSigner(node: author, key: try P256PrivateKey.generate())
let base: UInt64 = 1_790_000_000_000

/// Genesis changes of agreements with about 1 KB of terms each, signed, made before timing starts.
func makeChanges(_ count: Int) throws -> [VerifiedChange] {
    let paragraph = String(repeating: "The parties share GPU capacity and support staff. ", count: 4)
    return try (0..<count).map { index in
        let change = try Change.genesis(
            stamp: Stamp(millis: base + UInt64(index), counter: 0, node: author),
            edits: [
                .set(.title, .text("Partnership \(index)")), .set(.category, .category(.technicalResources)),
                .addParty("globex"), .addParty("acme"),
                .set(.framework(.valueAlignment), .text(paragraph)), .set(.framework(.technicalFit), .text(paragraph)),
                .set(.framework(.serviceCoverage), .text(paragraph)), .set(.framework(.dataProtection), .text(paragraph)),
            ]
        )
        return try signer.sign(change)
    }
}

func temporaryDirectory(_ label: String) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("accord-bench-\(label)-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Applies `changes` in batches of `batchSize` from `callers` concurrent tasks into a fresh store.
func measureStore(_ changes: [VerifiedChange], batchSize: Int, callers: Int) async throws -> (Double, String) {
    let directory = temporaryDirectory("store")
    let store = try NodeStore(configuration: StoreConfiguration(directory: directory, node: NodeID(organisation: "acme", name: "bench")!))
    let batches = stride(from: 0, to: changes.count, by: batchSize).map { Array(changes[$0..<min($0 + batchSize, changes.count)]) }
    let clock = ContinuousClock()
    let start = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<callers {
            group.addTask {
                for batch in stride(from: caller, to: batches.count, by: callers) {
                    let report = try await store.apply(batches[batch], nowMillis: base + 1_000_000)
                    precondition(report.accepted.count == batches[batch].count, "benchmark change not accepted")
                    if batch % 16 == 0 { storeResident.withLockedValue { $0 = max($0, residentBytes("VmRSS")) } }
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = seconds(clock.now - start)
    await store.close()
    return (elapsed, directory)
}

/// The same signed bytes inserted with plain SQLite: same WAL mode, same synchronous=FULL, same
/// batch sizes, one index on the agreement like the store's log. The ceiling the store is judged by.
func measureRawInserts(_ changes: [VerifiedChange], batchSize: Int) throws -> Double {
    let directory = temporaryDirectory("raw")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var database: OpaquePointer?
    guard sqlite3_open(directory + "/raw.sqlite", &database) == SQLITE_OK, let database else { fatalError("cannot open raw database") }
    defer { sqlite3_close(database) }
    sqlite3_exec(database, "PRAGMA page_size=\(NodeStore.newDatabasePageSize); PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; " + NodeStore.performancePragmas, nil, nil, nil)
    sqlite3_exec(database, "CREATE TABLE changes (seq INTEGER PRIMARY KEY, id BLOB UNIQUE, agreement BLOB, encoded BLOB); CREATE INDEX by_agreement ON changes (agreement, seq);", nil, nil, nil)
    var statement: OpaquePointer?
    sqlite3_prepare_v2(database, "INSERT INTO changes (id, agreement, encoded) VALUES (?, ?, ?)", -1, &statement, nil)
    defer { sqlite3_finalize(statement) }
    let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
    let clock = ContinuousClock()
    let start = clock.now
    for batchStart in stride(from: 0, to: changes.count, by: batchSize) {
        sqlite3_exec(database, "BEGIN", nil, nil, nil)
        for change in changes[batchStart..<min(batchStart + batchSize, changes.count)] {
            // The same bytes the store writes, produced the same way (the store encodes them too).
            let (id, agreement, encoded) = (change.id.bytes, change.change.agreement.uuid.bytes, change.signed.encoded)
            sqlite3_reset(statement)
            _ = id.withUnsafeBytes { sqlite3_bind_blob(statement, 1, $0.baseAddress, Int32($0.count), transient) }
            _ = agreement.withUnsafeBytes { sqlite3_bind_blob(statement, 2, $0.baseAddress, Int32($0.count), transient) }
            _ = encoded.withUnsafeBytes { sqlite3_bind_blob(statement, 3, $0.baseAddress, Int32($0.count), transient) }
            guard sqlite3_step(statement) == SQLITE_DONE else { fatalError("raw insert failed") }
        }
        guard sqlite3_exec(database, "COMMIT", nil, nil, nil) == SQLITE_OK else { fatalError("raw commit failed") }
    }
    return Double(changes.count) / seconds(clock.now - start)
}

/// A line of /proc/self/status in bytes: VmHWM (peak resident) or VmRSS (current).
func residentBytes(_ field: String = "VmHWM") -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
        let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kilobytes * 1024
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}

let all = try makeChanges(options.changes)
let unbatched = Array(all.prefix(options.unbatchedChanges))
// What the benchmark itself holds (the pre-signed changes), so the store's share can be told apart.
let baselineResident = residentBytes("VmRSS")
var rows: [Row] = []
var bytesPerAgreement = 0.0

for (batchSize, callers, changes) in [(1, 1, unbatched), (1, 64, unbatched), (100, 1, all), (1000, 1, all)] {
    let (elapsed, directory) = try await measureStore(changes, batchSize: batchSize, callers: callers)
    if batchSize == 1000 {
        bytesPerAgreement = Double(fileSize(directory + "/accord.sqlite") + fileSize(directory + "/accord.sqlite-wal")) / Double(changes.count)
    }
    try? FileManager.default.removeItem(atPath: directory)
    let raw = callers == 1 ? try measureRawInserts(changes, batchSize: batchSize) : nil
    rows.append(Row(
        scenario: callers == 1 ? "apply, batch \(batchSize)" : "apply, batch 1, \(callers) concurrent callers (group commit)",
        batchSize: batchSize, concurrentCallers: callers, changes: changes.count, seconds: elapsed, rawInsertsPerSecond: raw
    ))
}

let peak = residentBytes()
print("Node store: durable apply (synchronous=FULL, WAL), 1 KB-terms genesis changes")
print("scenario".padding(toLength: 58, withPad: " ", startingAt: 0) + "changes   seconds   changes/s   raw inserts/s   ratio")
for row in rows {
    let raw = row.rawInsertsPerSecond.map { String(format: "%13.0f   %4.0f%%", $0, 100 * row.changesPerSecond / $0) } ?? "            –       –"
    print(
        row.scenario.padding(toLength: 58, withPad: " ", startingAt: 0)
            + String(format: "%7d   %7.2f   %9.0f", row.changes, row.seconds, row.changesPerSecond) + "   " + raw
    )
}
let storePeak = storeResident.withLockedValue { $0 } - baselineResident
print(String(
    format: "store resident (sampled while applying, above the %.1f MB of pre-signed changes the benchmark holds): %.1f MB; "
        + "process peak incl. the raw runs: %.1f MB; database bytes per agreement: %.0f",
    Double(baselineResident) / 1_048_576, Double(storePeak) / 1_048_576, Double(peak) / 1_048_576, bytesPerAgreement
))

struct Report: Encodable {
    let machine: String
    let rows: [Row]
    let peakResidentBytes: Int
    let residentBytesBeforeStores: Int
    let storeResidentBytes: Int
    let databaseBytesPerAgreement: Double
}
let machine = "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB"
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
try encoder.encode(Report(
    machine: machine, rows: rows, peakResidentBytes: peak, residentBytesBeforeStores: baselineResident, storeResidentBytes: storePeak,
    databaseBytesPerAgreement: bytesPerAgreement
))
    .write(to: URL(fileURLWithPath: options.json))
print("wrote \(options.json)")
