import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import AccordTLS
import Foundation
import Logging
import Synchronization

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

    init(_ name: String, port: Int, workspace: String) throws {
        self.name = name
        credentials = try NodeCredentials(name, in: exampleCertificates)
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
        var configuration = SyncConfiguration(node: id, listenPort: port, peers: peers, clock: unixMillis)
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

/// Both nodes in this process (real SQLite files, mutual TLS over 127.0.0.1), beside the same
/// run's raw P-256 verification and durable store apply: where the protocol and store go, without
/// process boundaries or the admin API.
func runInProcess(agreements: Int, edits: Int, differences: Int, report: BenchReport) async throws {
    let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("accord-bench-\(UUID())").path
    print("accord-bench: \(agreements) agreements, \(edits) edits, \(ProcessInfo.processInfo.activeProcessorCount) cores")
    print(String(repeating: "-", count: 100))

    // Raw limits of this run.
    let acmeSigner = try BenchNode("acme-node1", port: 0, workspace: workspace).signer
    var sampleClock = HybridLogicalClock(node: acmeSigner.node)
    let samples = try (0..<2000).map { index in try acmeSigner.sign(Change.genesis(stamp: sampleClock.stamp(physicalMillis: unixMillis()), edits: benchmarkTerms(index))) }
    let verifier = ChangeVerifier(directory: StaticAuthorDirectory([acmeSigner.node: acmeSigner.publicKey]))
    let verifyStart = ContinuousClock.now
    for sample in samples { _ = try verifier.verify(sample.signed) }
    report.record("raw: P-256 verify, one core", Double(samples.count) / seconds(ContinuousClock.now - verifyStart), "changes/s")

    let acme = try BenchNode("acme-node1", port: freePort(), workspace: workspace)
    let globex = try BenchNode("globex-node1", port: freePort(), workspace: workspace)
    acme.peers = [globex.endpoint]
    globex.peers = [acme.endpoint]

    // acme's log: one signed genesis change per agreement, made durable in batches.
    try acme.open()
    var clock = HybridLogicalClock(node: acme.id)
    var created: [AgreementID] = []
    let applyStart = ContinuousClock.now
    for start in stride(from: 0, to: agreements, by: 1000) {
        let batch = try (start..<min(start + 1000, agreements)).map { index in
            try acme.signer.sign(Change.genesis(stamp: clock.stamp(physicalMillis: unixMillis()), edits: benchmarkTerms(index)))
        }
        created += batch.map(\.change.agreement)
        _ = try await acme.store.apply(batch, nowMillis: unixMillis())
    }
    report.record("raw: durable store apply (sign + apply, batches of 1000)", Double(agreements) / seconds(ContinuousClock.now - applyStart), "changes/s")

    // Catch-up of a fresh node.
    try await acme.start()
    let catchUpStart = ContinuousClock.now
    let catchUpProcessor = processorSeconds()
    try await globex.start()
    try await waitUntil { try await globex.store.counts().changes >= agreements }
    let catchUp = seconds(ContinuousClock.now - catchUpStart)
    report.record("catch-up: fresh node receives \(agreements) agreements", catchUp, "s", aim: "≤ 5 s at 100k")
    report.record("catch-up rate", Double(agreements) / catchUp, "agreements/s")
    report.record("catch-up: CPU used by both nodes (of \(ProcessInfo.processInfo.activeProcessorCount) cores)", (processorSeconds() - catchUpProcessor) / catchUp, "cores")
    report.record("RSS, both nodes in this process, after catch-up", residentMegabytes(), "MB", aim: "≤ 150 MB per node")

    // Re-sync of two nodes in sync.
    _ = await globex.sync.synchronise()
    await globex.stop()
    let before = acme.sync.metrics.snapshot
    try await globex.start()
    try await waitUntil { (acme.sync.sessions.first?.lastRound) != nil }
    let after = acme.sync.metrics.snapshot
    report.record("re-sync in sync: reconciliation bytes (both directions)", Double(after.reconcileBytes - before.reconcileBytes), "B", aim: "≤ 8 KB")
    report.record("re-sync in sync: reconciliation messages", Double(after.reconcileMessages - before.reconcileMessages), "messages", aim: "≤ 6 round trips")
    report.record("naive full-digest exchange (id + digest per agreement)", Double(agreements * 48), "B")

    // Differences among the shared agreements.
    await globex.stop()
    for agreement in created.prefix(differences) {
        _ = try await acme.store.author(agreement, [.note("a difference")], signer: acme.signer, nowMillis: unixMillis())
    }
    let diffBefore = acme.sync.metrics.snapshot
    let expected = agreements + differences
    let diffStart = ContinuousClock.now
    try await globex.start()
    try await waitUntil { try await globex.store.counts().changes >= expected }
    let diffSeconds = seconds(ContinuousClock.now - diffStart)
    try await Task.sleep(for: .milliseconds(200))
    let diffAfter = acme.sync.metrics.snapshot
    report.record("\(differences) differences: time to converge (incl. reconnect)", diffSeconds * 1000, "ms")
    report.record("\(differences) differences: reconciliation bytes", Double(diffAfter.reconcileBytes - diffBefore.reconcileBytes), "B")
    report.record("\(differences) differences: change bytes sent", Double(diffAfter.changeBytesSent - diffBefore.changeBytesSent), "B")

    // Latency of one edit to a connected peer.
    func measureLatencies(acme: BenchNode, globex: BenchNode, count: Int, agreements: [AgreementID]) async throws -> [Double] {
        var latencies: [Double] = []
        var arrivals = globex.store.acceptedSequences().makeAsyncIterator()
        for index in 0..<count {
            let agreement = agreements[index % agreements.count]
            let start = ContinuousClock.now
            _ = try await acme.store.author(agreement, [.set(.title, .text("Edit \(index)"))], signer: acme.signer, nowMillis: unixMillis())
            _ = await arrivals.next()
            latencies.append(seconds(ContinuousClock.now - start) * 1000)
        }
        return latencies.sorted()
    }
    let latencies = try await measureLatencies(acme: acme, globex: globex, count: edits, agreements: created)
    report.record("one edit to a connected peer: p50", latencies[latencies.count / 2], "ms", aim: "≤ 3 ms")
    report.record("one edit to a connected peer: p99", latencies[min(latencies.count - 1, latencies.count * 99 / 100)], "ms")

    // Bytes on the wire for one single-field edit.
    let edit = try await acme.store.author(created[0], [.set(.title, .text("A new title here"))], signer: acme.signer, nowMillis: unixMillis())
    report.record("one single-field edit framed, signature included", Double(FrameEncoder.frame(.changes(batch: 0, encoded: [edit.encoded])).count), "B", aim: "≤ 200 B")
    report.record("RSS, both nodes in this process, at the end", residentMegabytes(), "MB")

    await acme.stop()
    await globex.stop()
    try? FileManager.default.removeItem(atPath: workspace)
}
