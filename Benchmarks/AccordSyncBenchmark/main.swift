// Scenario benchmark of peer sync: real nodes (real SQLite files, mutual TLS over 127.0.0.1) in
// one process, beside the same run's raw limits (P-256 verification, durable store apply).
//
// Usage: accord-bench [--agreements N] [--edits N] [--differences N] [--json PATH]
// Prints a table; writes the figures as JSON (default benchmarks-sync.json).
import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import AccordTLS
import Foundation
import Logging
import Synchronization

struct Options {
    var agreements = 100_000
    var edits = 1_000
    var differences = 100
    var json = "benchmarks-sync.json"

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--agreements": agreements = Int(iterator.next() ?? "") ?? agreements
            case "--edits": edits = Int(iterator.next() ?? "") ?? edits
            case "--differences": differences = Int(iterator.next() ?? "") ?? differences
            case "--json": json = iterator.next() ?? json
            default:
                FileHandle.standardError.write(Data("usage: accord-bench [--agreements N] [--edits N] [--differences N] [--json PATH]\n".utf8))
                exit(64)
            }
        }
    }
}

struct Figure: Encodable {
    let scenario: String
    let value: Double
    let unit: String
    let aim: String
}

let options = Options(CommandLine.arguments)
let certificates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("certs-example/example").path
let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("accord-bench-\(UUID())").path
let figures = Mutex<[Figure]>([])

func record(_ scenario: String, _ value: Double, _ unit: String, aim: String = "") {
    figures.withLock { $0.append(Figure(scenario: scenario, value: value, unit: unit, aim: aim)) }
    let padded = scenario.padding(toLength: 62, withPad: " ", startingAt: 0)
    print("\(padded) \(String(format: "%14.2f", value)) \(unit.padding(toLength: 12, withPad: " ", startingAt: 0)) \(aim)")
}

func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// CPU seconds (user + system) this process has used so far.
func processorSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func residentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return Double(line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) / 1024
}

/// One benchmark node.
final class BenchNode: @unchecked Sendable {
    let name: String
    let id: NodeID
    let directory: String
    let credentials: NodeCredentials
    var signer: ChangeSigner { credentials.signer }
    let port: Int
    var peers: [PeerEndpoint] = []
    var store: NodeStore!
    var sync: SyncNode!
    var task: Task<Void, any Error>?

    init(_ name: String, port: Int) throws {
        self.name = name
        credentials = try NodeCredentials(name, in: certificates)
        id = credentials.node
        directory = "\(workspace)/\(name)"
        self.port = port
    }

    var endpoint: PeerEndpoint { PeerEndpoint(organisation: id.organisation, host: "127.0.0.1", port: port) }

    func open() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try NodeStore(configuration: StoreConfiguration(directory: directory, node: id))
    }

    func start() async throws {
        if store == nil { try open() }
        var configuration = SyncConfiguration(node: id, listenPort: port, peers: peers, clock: now)
        configuration.reconnectBackoff = .milliseconds(20) ... .milliseconds(200)
        let sync = try await SyncNode.assemble(
            credentials: credentials, configuration: configuration, store: store, logger: Logger(label: name) { _ in SwiftLogNoOpLogHandler() }
        )
        self.sync = sync
        task = Task { try await sync.run() }
        _ = try await sync.waitUntilListening()
    }

    func stop() async {
        task?.cancel()
        _ = try? await task?.value
        task = nil
        await store?.close()
        store = nil
    }
}

func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

func waitUntil(_ condition: () async throws -> Bool) async throws {
    while try await !condition() { try await Task.sleep(for: .milliseconds(2)) }
}

/// About 1 KB of terms: a title, a category, two parties and a framework text.
func terms(_ index: Int) -> [Edit] {
    [
        .set(.title, .text("Technology partnership \(index)")), .set(.category, .category(.technicalResources)),
        .addParty("acme"), .addParty("globex"),
        .set(.framework(.serviceCoverage), .text(String(repeating: "Shared resources, support levels and cost split, clause \(index). ", count: 14))),
    ]
}

print("accord-bench: \(options.agreements) agreements, \(options.edits) edits, \(ProcessInfo.processInfo.activeProcessorCount) cores")
print(String(repeating: "-", count: 100))

// Raw limits of this run.
let acmeSigner = try BenchNode("acme-node1", port: 0).signer
var sampleClock = HybridLogicalClock(node: acmeSigner.node)
let samples = try (0..<2000).map { index in try acmeSigner.sign(Change.genesis(stamp: sampleClock.stamp(physicalMillis: now()), edits: terms(index))) }
let verifier = ChangeVerifier(directory: StaticAuthorDirectory([acmeSigner.node: acmeSigner.publicKey]))
let verifyStart = ContinuousClock.now
for sample in samples { _ = try verifier.verify(sample.signed) }
record("raw: P-256 verify, one core", Double(samples.count) / seconds(ContinuousClock.now - verifyStart), "changes/s")

let acme = try BenchNode("acme-node1", port: freePort())
let globex = try BenchNode("globex-node1", port: freePort())
acme.peers = [globex.endpoint]
globex.peers = [acme.endpoint]

// acme's log: one signed genesis change per agreement, made durable in batches.
try acme.open()
var clock = HybridLogicalClock(node: acme.id)
var created: [AgreementID] = []
let applyStart = ContinuousClock.now
for start in stride(from: 0, to: options.agreements, by: 1000) {
    let batch = try (start..<min(start + 1000, options.agreements)).map { index in
        try acme.signer.sign(Change.genesis(stamp: clock.stamp(physicalMillis: now()), edits: terms(index)))
    }
    created += batch.map(\.change.agreement)
    _ = try await acme.store.apply(batch, nowMillis: now())
}
record("raw: durable store apply (sign + apply, batches of 1000)", Double(options.agreements) / seconds(ContinuousClock.now - applyStart), "changes/s")

// Catch-up of a fresh node.
try await acme.start()
let catchUpStart = ContinuousClock.now
let catchUpProcessor = processorSeconds()
try await globex.start()
try await waitUntil { try await globex.store.counts().changes >= options.agreements }
let catchUp = seconds(ContinuousClock.now - catchUpStart)
record("catch-up: fresh node receives \(options.agreements) agreements", catchUp, "s", aim: "≤ 5 s at 100k")
record("catch-up rate", Double(options.agreements) / catchUp, "agreements/s")
record("catch-up: CPU used by both nodes (of \(ProcessInfo.processInfo.activeProcessorCount) cores)", (processorSeconds() - catchUpProcessor) / catchUp, "cores")
record("RSS, both nodes in this process, after catch-up", residentMegabytes(), "MB", aim: "≤ 150 MB per node")

// Re-sync of two nodes in sync.
_ = await globex.sync.synchronise()
await globex.stop()
let before = acme.sync.metrics.snapshot
try await globex.start()
try await waitUntil { (acme.sync.sessions.first?.lastRound) != nil }
let after = acme.sync.metrics.snapshot
record("re-sync in sync: reconciliation bytes (both directions)", Double(after.reconcileBytes - before.reconcileBytes), "B", aim: "≤ 8 KB")
record("re-sync in sync: reconciliation messages", Double(after.reconcileMessages - before.reconcileMessages), "messages", aim: "≤ 6 round trips")
record("naive full-digest exchange (id + digest per agreement)", Double(options.agreements * 48), "B")

// Differences among the shared agreements.
await globex.stop()
for agreement in created.prefix(options.differences) {
    _ = try await acme.store.author(agreement, [.note("a difference")], signer: acme.signer, nowMillis: now())
}
let diffBefore = acme.sync.metrics.snapshot
let expected = options.agreements + options.differences
let diffStart = ContinuousClock.now
try await globex.start()
try await waitUntil { try await globex.store.counts().changes >= expected }
let diffSeconds = seconds(ContinuousClock.now - diffStart)
try await Task.sleep(for: .milliseconds(200))
let diffAfter = acme.sync.metrics.snapshot
record("\(options.differences) differences: time to converge (incl. reconnect)", diffSeconds * 1000, "ms")
record("\(options.differences) differences: reconciliation bytes", Double(diffAfter.reconcileBytes - diffBefore.reconcileBytes), "B")
record("\(options.differences) differences: change bytes sent", Double(diffAfter.changeBytesSent - diffBefore.changeBytesSent), "B")

// Latency of one edit to a connected peer.
func measureLatencies(count: Int, agreements: [AgreementID]) async throws -> [Double] {
    var latencies: [Double] = []
    var arrivals = globex.store.acceptedSequences().makeAsyncIterator()
    for index in 0..<count {
        let agreement = agreements[index % agreements.count]
        let start = ContinuousClock.now
        _ = try await acme.store.author(agreement, [.set(.title, .text("Edit \(index)"))], signer: acme.signer, nowMillis: now())
        _ = await arrivals.next()
        latencies.append(seconds(ContinuousClock.now - start) * 1000)
    }
    return latencies.sorted()
}
let latencies = try await measureLatencies(count: options.edits, agreements: created)
record("one edit to a connected peer: p50", latencies[latencies.count / 2], "ms", aim: "≤ 3 ms")
record("one edit to a connected peer: p99", latencies[min(latencies.count - 1, latencies.count * 99 / 100)], "ms")

// Bytes on the wire for one single-field edit.
let edit = try await acme.store.author(created[0], [.set(.title, .text("A new title here"))], signer: acme.signer, nowMillis: now())
record("one single-field edit framed, signature included", Double(FrameEncoder.frame(.changes(batch: 0, encoded: [edit.encoded])).count), "B", aim: "≤ 200 B")
record("RSS, both nodes in this process, at the end", residentMegabytes(), "MB")

await acme.stop()
await globex.stop()
try? FileManager.default.removeItem(atPath: workspace)
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
try encoder.encode(figures.withLock { $0 }).write(to: URL(fileURLWithPath: options.json))
print("wrote \(options.json)")
