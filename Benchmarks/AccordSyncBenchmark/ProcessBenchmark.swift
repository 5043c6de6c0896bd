import AccordAdminAPI
import AccordStore
import AccordTestSupport
import Dispatch
import Foundation

/// Real `accordd` processes driven only through their admin API, as a new user would, each figure
/// beside the same run's limit (`SameRunLimits`):
/// - authoring: agreements created through the admin API on acme, half one per request by
///   concurrent keep-alive clients, half in bulk requests, while globex/node1 is connected and
///   receives them;
/// - catch-up: a fresh node (globex/node2, empty data directory) receives them all from acme;
/// - memory: each accordd's resident set during and after catch-up;
/// - an edit on acme visible through globex/node1's admin API;
/// - reconciliation bytes per difference, after globex/node2 missed some edits;
/// - database bytes per agreement.
struct ProcessBenchmark {
    let agreements: Int
    let edits: Int
    let differences: Int
    let clients: Int
    let binaries: String
    /// Where `perf record` writes a profile per phase and node; nil: no profiling.
    let perfFolder: String?
    let report: BenchReport

    func run() async throws {
        let limits = try await SameRunLimits.measure(binaries: binaries, report: report)
        let pki = TestCertificates.temporaryFolder("accord-bench-pki")
        try await TestCertificates.make(["-o", pki, "acme:node1", "globex:node1,node2"])
        defer { try? FileManager.default.removeItem(atPath: pki) }
        let ports = try freePorts(3)
        let acme = try AccordProcess("acme", port: ports[0], binaries: binaries)
        let globex = try AccordProcess("globex", port: ports[1], binaries: binaries)
        let fresh = try AccordProcess("globex", name: "node2", port: ports[2], binaries: binaries)
        let nodes = [acme, globex, fresh]
        for node in nodes {
            node.certificates = pki
            (node.keepaliveSeconds, node.idleTimeoutSeconds) = (15, 45)
        }
        (acme.peers, globex.peers, fresh.peers) = ([globex.address, fresh.address], [acme.address], [acme.address])
        defer { for node in nodes { node.remove() } }

        try await acme.start()
        try await globex.start()
        try await eventually("acme and globex in session") { try await acme.json("peers", as: [PeerStatus].self).contains { $0.connected } }

        // Authoring through the admin API.
        let acmeCPU = processCPUSeconds(pid: acme.process!.pid) ?? 0
        let authoringProfile = try PerfRecording.start("authoring-acme", pid: acme.process!.pid, in: perfFolder)
        let authoringStart = ContinuousClock.now
        // Half one by one from concurrent clients, half in bulk requests.
        let single = max(1, agreements / 2)
        var ids = try await Self.createConcurrently(single, clients: clients, socket: acme.socket)
        let authoring = seconds(ContinuousClock.now - authoringStart)
        try await authoringProfile?.stop()
        let createRate = Double(single) / authoring
        report.record(
            "authoring: creates through the admin API, \(clients) clients", createRate, "creates/s",
            ratio: (createRate / limits.durableCommitsPerSecond, "× durable commits/s"), aim: "≥ 10,000/s"
        )
        report.record(
            "authoring: acme's CPU per create", ((processCPUSeconds(pid: acme.process!.pid) ?? 0) - acmeCPU) / Double(single) * 1000, "ms"
        )
        let bulkProfile = try PerfRecording.start("bulk-acme", pid: acme.process!.pid, in: perfFolder)
        let bulkStart = ContinuousClock.now
        ids += try await Self.createInBulk(agreements - single, first: single, socket: acme.socket)
        let bulkRate = Double(agreements - single) / seconds(ContinuousClock.now - bulkStart)
        try await bulkProfile?.stop()
        report.record(
            "authoring: bulk create, \(Self.bulkSize) per request", bulkRate, "creates/s",
            ratio: (bulkRate / limits.durableInsertsPerSecondBatched, "× durable inserts/s"), aim: "≥ 20,000/s"
        )
        try await eventually("globex/node1 has every agreement", timeout: .seconds(600)) {
            try await globex.json("status", as: NodeStatus.self).agreements >= agreements
        }

        // Catch-up of a fresh node.
        let (peak, senderPeak) = (Maximum(0), Maximum(0))
        let catchUpStart = ContinuousClock.now
        let (acmeBefore, freshBefore) = (processCPUSeconds(pid: acme.process!.pid) ?? 0, 0.0)
        let senderProfile = try PerfRecording.start("catch-up-sender", pid: acme.process!.pid, in: perfFolder)
        try await fresh.start()
        let receiverProfile = try PerfRecording.start("catch-up-receiver", pid: fresh.process!.pid, in: perfFolder)
        let admin = fresh.admin()
        while try Self.agreementCount(admin) < agreements {
            if let memory = fresh.memory { peak.observe(memory.resident) }
            if let memory = acme.memory { senderPeak.observe(memory.resident) }
            try await Task.sleep(for: .milliseconds(20))
        }
        let catchUp = seconds(ContinuousClock.now - catchUpStart)
        try await senderProfile?.stop()
        try await receiverProfile?.stop()
        let floor = limits.verificationFloor(agreements)
        report.record(
            "catch-up: fresh node receives \(agreements) agreements", catchUp, "s",
            ratio: (catchUp / floor, "× verification floor"), aim: "≤ 1.5× floor; 10k ≤ 1 s"
        )
        let cpu = ((processCPUSeconds(pid: acme.process!.pid) ?? 0) - acmeBefore) + ((processCPUSeconds(pid: fresh.process!.pid) ?? 0) - freshBefore)
        report.record("catch-up: CPU of sender and receiver", cpu / catchUp, "cores")
        // Changes that reached the receiver twice (by the log stream and again by a repair, say):
        // each costs the sender a read and the receiver a lookup, not a signature check.
        report.record("catch-up: changes received again, per agreement", try await fresh.metric("accord_changes_duplicate_total") / Double(agreements), "")
        report.record("catch-up: sessions the receiver established", try await fresh.metric("accord_sessions_established_total"), "")
        report.record("catch-up: agreements reconciliation found different", try await fresh.metric("accord_reconcile_differences_total"), "")
        report.record("catch-up: receiver's peak RSS during", peak.maximum, "MB", aim: "≤ 100 MB")
        report.record("catch-up: sender's peak RSS during", senderPeak.maximum, "MB", aim: "≤ 100 MB")
        for (label, node) in [("acme (sender)", acme), ("globex/node2 (receiver)", fresh)] {
            report.record("RSS after catch-up: \(label)", node.memory?.resident ?? 0, "MB", aim: "≤ 100 MB")
        }
        // Once the nodes are idle for a while: what they keep, not what they have not given back yet.
        try await Task.sleep(for: .seconds(12))
        for (label, node) in [("acme (sender)", acme), ("globex/node2 (receiver)", fresh)] {
            report.record("RSS 12 s after catch-up: \(label)", node.memory?.resident ?? 0, "MB", aim: "≤ 100 MB")
        }

        // An edit on acme, visible through globex/node1's admin API.
        let (latencies, acknowledged, reads) = try await Self.editLatencies(edits, on: acme.admin(), seenBy: globex.admin(), agreements: ids)
        report.record("edit acknowledged by acme (its own commit): p50", percentile(acknowledged, 0.5), "ms")
        report.record("one admin read of the agreement on globex: p50", percentile(reads, 0.5), "ms")
        report.record(
            "edit visible at the partner: p50", percentile(latencies, 0.5), "ms",
            ratio: (percentile(latencies, 0.5) / limits.tlsRoundTripMilliseconds, "× TLS round trip"), aim: "≤ 2 ms"
        )
        report.record(
            "edit visible at the partner: p99", percentile(latencies, 0.99), "ms",
            ratio: (percentile(latencies, 0.99) / limits.tlsRoundTripMilliseconds, "× TLS round trip"), aim: "≤ 5 ms"
        )

        // Differences: globex/node2 misses notes on `differences` agreements, then reconnects.
        try await fresh.stop()
        let acmeAdmin = acme.admin()
        for id in ids.prefix(differences) {
            _ = try acmeAdmin.blockingPost("/v1/agreements/\(id)/notes", json: #"{"text": "a difference"}"#)
        }
        let reconcileBefore = try await acme.metric("accord_reconcile_bytes_total")
        let headsBefore = try await acme.metric("accord_reconcile_heads_bytes_total")
        let expected = try Self.changeCount(acme.admin())
        try await fresh.start()
        try await eventually("globex/node2 has every change", timeout: .seconds(120)) { try Self.changeCount(fresh.admin()) >= expected }
        try await eventually("the round is counted") { try await acme.metric("accord_reconcile_bytes_total") > reconcileBefore }
        // acme counts the frames of both directions (the fresh node's own count would include
        // its rounds with globex/node1).
        let reconcileBytes = try await acme.metric("accord_reconcile_bytes_total") - reconcileBefore
        let headsBytes = try await acme.metric("accord_reconcile_heads_bytes_total") - headsBefore
        report.record(
            "\(differences) differences: set reconciliation bytes per difference", (reconcileBytes - headsBytes) / Double(differences), "B", aim: "≤ 200 B"
        )
        report.record("\(differences) differences: heads exchanged per difference (for repairs)", headsBytes / Double(differences), "B")

        // Database size, after a clean stop (checkpointed).
        try await acme.stop()
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: "\(acme.dataDirectory)/accord.sqlite"))?[.size] as? Int) ?? 0
        report.record("database bytes per agreement (acme, checkpointed)", Double(bytes) / Double(agreements), "B", aim: "≤ 1,500 B")
        // Where they go: the objects of more than 1 % of the file.
        let space = try StoreSpace(databaseAt: "\(acme.dataDirectory)/accord.sqlite")
        for object in space.objects where object.bytes * 100 > bytes {
            let unused = Double(object.unusedBytes) / Double(object.bytes) * 100
            report.record("  in \(object.name), \(Int(unused.rounded())) % unused", Double(object.bytes) / Double(agreements), "B")
        }
        try await globex.stop()
        try await fresh.stop()
    }

    /// Creates `count` agreements of ~1 KB through `clients` keep-alive connections at once.
    static func createConcurrently(_ count: Int, clients: Int, socket: String) async throws -> [String] {
        try await onClientThreads(clients, socket: socket) { client, admin in
            try stride(from: client, to: count, by: clients).map { index in
                let response = try admin.blockingRequest("POST", "/v1/agreements", body: Array(try AdminAPI.encoder().encode(entry(index))))
                guard response.status == 201 else { throw BenchFailure("create: \(response.status) \(response.text)") }
                return try AdminAPI.decoder().decode(CreatedAgreement.self, from: Data(response.body)).id
            }
        }
    }

    static let bulkSize = 500

    /// Creates `count` agreements in `POST /v1/agreements/bulk` requests of `bulkSize`, two
    /// requests at a time.
    static func createInBulk(_ count: Int, first: Int, socket: String) async throws -> [String] {
        let starts = Array(stride(from: first, to: first + count, by: bulkSize))
        return try await onClientThreads(2, socket: socket) { client, admin in
            var ids: [String] = []
            for start in starts.enumerated().filter({ $0.offset % 2 == client }).map(\.element) {
                let request = BulkCreateRequest(agreements: (start..<min(start + bulkSize, first + count)).map(entry))
                let response = try admin.blockingRequest("POST", "/v1/agreements/bulk", body: Array(try AdminAPI.encoder().encode(request)))
                guard response.status == 200 else { throw BenchFailure("bulk create: \(response.status) \(response.text.prefix(200))") }
                let answer = try AdminAPI.decoder().decode(BulkCreateResponse.self, from: Data(response.body))
                guard answer.created == request.agreements.count else {
                    throw BenchFailure("bulk create refused some: \(answer.results.compactMap(\.error).first.map { "\($0)" } ?? "")")
                }
                ids += answer.results.compactMap(\.created?.id)
            }
            return ids
        }
    }

    /// The `index`th agreement: ~1 KB of terms between acme and globex.
    static func entry(_ index: Int) -> CreateAgreementRequest {
        CreateAgreementRequest(
            title: "Technology partnership \(index)", category: "technicalResources", parties: ["acme", "globex"],
            framework: ["serviceCoverage": benchmarkFramework(index)]
        )
    }

    /// Runs `body` on `clients` threads at once, each with its own keep-alive admin connection
    /// (the admin clients block), and returns what they return; the first failure fails all.
    static func onClientThreads(
        _ clients: Int, socket: String, _ body: @escaping @Sendable (Int, AdminSocketClient) throws -> [String]
    ) async throws -> [String] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                let ids = Locked([String]())
                let failures = Locked([String]())
                DispatchQueue.concurrentPerform(iterations: clients) { client in
                    do {
                        let made = try body(client, AdminSocketClient(socket: socket))
                        ids.update { $0 += made }
                    } catch {
                        failures.update { $0.append("\(error)") }
                    }
                }
                if let failure = failures.value.first {
                    continuation.resume(throwing: BenchFailure(failure))
                } else {
                    continuation.resume(returning: ids.value)
                }
            }
        }
    }

    /// Sets a title on acme and reads the agreement on globex until it shows it, `count` times.
    /// Milliseconds from sending each edit to acme until globex's admin API shows it (`visible`),
    /// until acme answered the write (`acknowledged`: its own durable commit), and of each read
    /// on globex while waiting (`reads`), all sorted.
    static func editLatencies(
        _ count: Int, on writer: AdminSocketClient, seenBy reader: AdminSocketClient, agreements: [String]
    ) async throws -> (visible: [Double], acknowledged: [Double], reads: [Double]) {
        var (visible, acknowledged, reads): ([Double], [Double], [Double]) = ([], [], [])
        for index in 0..<count {
            let id = agreements[index % agreements.count]
            let title = "Edit \(index)"
            let start = ContinuousClock.now
            let response = try writer.blockingPost("/v1/agreements/\(id)/fields", json: #"{"field": "title", "value": "\#(title)"}"#)
            guard response.status == 200 else { throw BenchFailure("edit: \(response.status) \(response.text)") }
            acknowledged.append(seconds(ContinuousClock.now - start) * 1000)
            while true {
                let readStart = ContinuousClock.now
                let body = try reader.blockingGet("/v1/agreements/\(id)").body
                reads.append(seconds(ContinuousClock.now - readStart) * 1000)
                if try AdminAPI.decoder().decode(AgreementView.self, from: Data(body)).title == title { break }
            }
            visible.append(seconds(ContinuousClock.now - start) * 1000)
        }
        return (visible.sorted(), acknowledged.sorted(), reads.sorted())
    }

    static func agreementCount(_ admin: AdminSocketClient) throws -> Int {
        try AdminAPI.decoder().decode(NodeStatus.self, from: Data(admin.blockingGet("/v1/status").body)).agreements
    }

    static func changeCount(_ admin: AdminSocketClient) throws -> Int {
        try AdminAPI.decoder().decode(NodeStatus.self, from: Data(admin.blockingGet("/v1/status").body)).changes
    }
}

/// A value shared by the benchmark's client threads.
final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
