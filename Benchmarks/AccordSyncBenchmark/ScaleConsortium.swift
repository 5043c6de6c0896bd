import AccordAdminAPI
import AccordTestSupport
import Dispatch
import Foundation

/// The processes of the scale scenario and what it does with them (ScaleBenchmark.swift).
final class ScaleConsortium: @unchecked Sendable {
    let nodes: [AccordProcess]
    let organisations: [String]
    private let pki: String

    private init(nodes: [AccordProcess], organisations: [String], pki: String) {
        self.nodes = nodes
        self.organisations = organisations
        self.pki = pki
    }

    /// Mints certificates with make-certs.sh, starts every node with every other as its peer and
    /// production sync settings, and waits until every session is up.
    static func start(_ shape: ScaleBenchmark.Shape, binaries: String) async throws -> ScaleConsortium {
        let organisations = (1...shape.organisations).map { String(format: "org%02d", $0) }
        let layout = organisations.enumerated().flatMap { index, organisation in
            (index < shape.twoNodeOrganisations ? ["node1", "node2"] : ["node1"]).map { (organisation, $0) }
        }
        let pki = TestCertificates.temporaryFolder("accord-scale-pki")
        let specs = Dictionary(grouping: layout, by: \.0).map { "\($0.key):\($0.value.map(\.1).joined(separator: ","))" }.sorted()
        try await TestCertificates.make(["-o", pki] + specs)
        let ports = try freePorts(layout.count)
        let nodes = try zip(layout, ports).map { try AccordProcess($0.0, name: $0.1, port: $1, binaries: binaries) }
        for node in nodes {
            node.certificates = pki
            (node.keepaliveSeconds, node.idleTimeoutSeconds, node.reconcileIntervalSeconds) = (15, 45, nil)
            node.peers = nodes.filter { $0 !== node }.map(\.address)
        }
        let consortium = ScaleConsortium(nodes: nodes, organisations: organisations, pki: pki)
        do {
            for node in nodes { try await node.start() }
            try await eventually("every node in session with every other", timeout: .seconds(300), every: .milliseconds(500)) {
                try nodes.allSatisfy { try Self.status($0).peers.count { $0.connected } == nodes.count - 1 }
            }
        } catch {
            consortium.remove()
            throw error
        }
        return consortium
    }

    func nodes(of organisation: String) -> [AccordProcess] { nodes.filter { $0.organisation == organisation } }

    /// Creates `count` agreements of 2–5 random parties, each in bulk on a node of its first party.
    func createAgreements(_ count: Int, random: inout SplitMix64) async throws -> [ScaleAgreement] {
        var planned: [String: [CreateAgreementRequest]] = [:]
        var creators: [String: AccordProcess] = [:]
        for index in 0..<count {
            let parties = Array(organisations.shuffled(using: &random).prefix(Int.random(in: 2...5, using: &random)))
            let creatorNodes = nodes(of: parties[0])
            let creator = creatorNodes[Int.random(in: 0..<creatorNodes.count, using: &random)]
            creators[creator.label] = creator
            planned[creator.label, default: []].append(CreateAgreementRequest(
                title: "Partnership \(index)", category: "technicalResources", parties: parties,
                framework: ["serviceCoverage": benchmarkFramework(index)]
            ))
        }
        var created: [ScaleAgreement] = []
        for (label, requests) in planned.sorted(by: { $0.key < $1.key }) {
            let admin = creators[label]!.admin()
            for start in stride(from: 0, to: requests.count, by: 500) {
                let chunk = Array(requests[start..<min(start + 500, requests.count)])
                let response = try admin.blockingRequest("POST", "/v1/agreements/bulk", body: Array(try AdminAPI.encoder().encode(BulkCreateRequest(agreements: chunk))))
                guard response.status == 200 else { throw BenchFailure("bulk create on \(label): \(response.status) \(response.text.prefix(200))") }
                let answer = try AdminAPI.decoder().decode(BulkCreateResponse.self, from: Data(response.body))
                for (request, result) in zip(chunk, answer.results) {
                    guard let id = result.created?.id else { throw BenchFailure("bulk create on \(label) refused one: \(String(describing: result.error))") }
                    created.append(ScaleAgreement(id: id, parties: request.parties))
                }
            }
        }
        return created
    }

    func waitUntilEveryNodeHoldsItsAgreements(_ agreements: [ScaleAgreement]) async throws {
        try await eventually("every node holds its organisation's agreements", timeout: .seconds(600), every: .milliseconds(500)) {
            try nodes.allSatisfy { node in
                try Self.status(node).agreements == agreements.count { $0.parties.contains(node.organisation) }
            }
        }
    }

    struct Idle {
        var cpuPercent: Spread
        var residentMegabytes: Spread
        /// Of the resident set: the node's own memory (heap, stacks) and the pages of its
        /// executable and shared libraries, which processes on one machine share.
        var anonymousMegabytes: Spread
        var fileBackedMegabytes: Spread
        var descriptors: Spread
        var sockets: Spread
        var roundsPerPeerHour: Double
        var reconcileBytesPerPeerHour: Double
    }

    /// CPU, memory, descriptors and reconciliation traffic of every node over `window`.
    /// Reconciliation bytes are counted by the side that sends them; a session's bytes both ways
    /// are what each of its two nodes pays for that peer.
    func measureIdle(for window: Duration) async throws -> Idle {
        func sample() async throws -> (cpu: [Double], bytes: Double, rounds: Double) {
            let cpu = nodes.map { processCPUSeconds(pid: $0.process!.pid) ?? 0 }
            var (bytes, rounds) = (0.0, 0.0)
            for node in nodes {
                bytes += try await node.metric("accord_reconcile_bytes_total")
                rounds += try await node.metric("accord_reconcile_rounds_total")
            }
            return (cpu, bytes, rounds)
        }
        let before = try await sample()
        let started = ContinuousClock.now
        try await Task.sleep(for: window)
        let after = try await sample()
        let elapsed = seconds(ContinuousClock.now - started)
        let sessions = Double(nodes.count * (nodes.count - 1) / 2)
        let perHour = 3600 / elapsed
        let descriptors = nodes.map { Self.descriptors(of: $0.process!.pid) }
        let split = nodes.map { Self.residentSplit(of: $0.process!.pid) }
        return Idle(
            cpuPercent: Spread(zip(before.cpu, after.cpu).map { ($1 - $0) / elapsed * 100 }),
            residentMegabytes: Spread(nodes.map { $0.memory?.resident ?? 0 }),
            anonymousMegabytes: Spread(split.map(\.anonymous)), fileBackedMegabytes: Spread(split.map(\.fileBacked)),
            descriptors: Spread(descriptors.map { Double($0.all) }),
            sockets: Spread(descriptors.map { Double($0.sockets) }),
            // Each round is counted by both of its nodes.
            roundsPerPeerHour: (after.rounds - before.rounds) / 2 / sessions * perHour,
            reconcileBytesPerPeerHour: (after.bytes - before.bytes) / sessions * perHour
        )
    }

    /// Sets a title on `count` different agreements, one at a time, each on a node of one of its
    /// parties, and times it until every other party's node has announced it on its event stream.
    func fanOut(_ count: Int, agreements: [ScaleAgreement], random: inout SplitMix64) async throws -> [Double] {
        let watchers = try nodes.map { node in
            let tap = try LineTap(in: node.folder, name: "watch.fifo")
            let process = try Subprocess.spawn(
                "\(node.binaries)/accordctl", ["watch", "--json", "--socket", node.socket], stdout: tap.path, stderr: "\(node.folder)/watch.log"
            )
            return (node: node, tap: tap, process: process)
        }
        defer { for watcher in watchers { watcher.process.signal(SIGTERM) } }
        try await Task.sleep(for: .seconds(1))
        var latencies: [Double] = []
        for (index, agreement) in agreements.shuffled(using: &random).prefix(count).enumerated() {
            let partyNodes = nodes.filter { agreement.parties.contains($0.organisation) }
            let author = partyNodes[Int.random(in: 0..<partyNodes.count, using: &random)]
            let receivers = watchers.filter { $0.node !== author && agreement.parties.contains($0.node.organisation) }
            let cursors = receivers.map(\.tap.all.count)
            let sent = Date()
            let response = try author.admin().blockingPost("/v1/agreements/\(agreement.id)/fields", json: #"{"field": "title", "value": "Fan-out \#(index)"}"#)
            guard response.status == 200 else { throw BenchFailure("edit on \(author.label): \(response.status) \(response.text)") }
            var arrivals: [Date] = []
            let deadline = ContinuousClock.now + .seconds(30)
            for (receiver, cursor) in zip(receivers, cursors) {
                while true {
                    if let line = receiver.tap.all.dropFirst(cursor).first(where: { $0.text.contains(agreement.id) && $0.text.contains("agreement-changed") }) {
                        arrivals.append(line.readAt)
                        break
                    }
                    guard ContinuousClock.now < deadline else { throw BenchFailure("\(receiver.node.label) never announced the edit of \(agreement.id)") }
                    try await Task.sleep(for: .milliseconds(2))
                }
            }
            latencies.append((arrivals.max() ?? sent).timeIntervalSince(sent) * 1000)
        }
        return latencies.sorted()
    }

    /// Stops a random node, makes `count` notes on its organisation's agreements on other party
    /// nodes, restarts it and times until it holds them all.
    func catchUp(_ count: Int, agreements: [ScaleAgreement], random: inout SplitMix64) async throws -> (node: String, seconds: Double, startSeconds: Double) {
        let away = nodes[Int.random(in: 0..<nodes.count, using: &random)]
        let concerning = agreements.filter { $0.parties.contains(away.organisation) }
        guard !concerning.isEmpty else { throw BenchFailure("\(away.label) is party to no agreement") }
        let before = try Self.status(away).changes
        try await away.stop()
        let plan: [(socket: String, id: String)] = (0..<count).map { _ in
            let agreement = concerning[Int.random(in: 0..<concerning.count, using: &random)]
            let writers = nodes.filter { $0 !== away && agreement.parties.contains($0.organisation) }
            return (writers[Int.random(in: 0..<writers.count, using: &random)].socket, agreement.id)
        }
        try await Self.onThreads(8) { worker in
            var clients: [String: AdminSocketClient] = [:]
            for (socket, id) in stride(from: worker, to: plan.count, by: 8).map({ plan[$0] }) {
                let client = clients[socket] ?? AdminSocketClient(socket: socket)
                clients[socket] = client
                let response = try client.blockingPost("/v1/agreements/\(id)/notes", json: #"{"text": "while away"}"#)
                guard response.status == 201 || response.status == 200 else { throw BenchFailure("note: \(response.status) \(response.text)") }
            }
        }
        let started = ContinuousClock.now
        try await away.start()
        let answering = seconds(ContinuousClock.now - started)
        try await eventually("\(away.label) caught up", timeout: .seconds(600), every: .milliseconds(20)) {
            try Self.status(away).changes >= before + count
        }
        return (away.label, seconds(ContinuousClock.now - started), answering)
    }

    func stopAll() async throws {
        for node in nodes where node.isRunning { try await node.stop() }
    }

    func remove() {
        for node in nodes { node.remove() }
        try? FileManager.default.removeItem(atPath: pki)
    }

    static func status(_ node: AccordProcess) throws -> NodeStatus {
        try AdminAPI.decoder().decode(NodeStatus.self, from: Data(node.admin().blockingGet("/v1/status").body))
    }

    /// RssAnon and RssFile of a process, in MB.
    static func residentSplit(of pid: pid_t) -> (anonymous: Double, fileBacked: Double) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return Double(line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) / 1024
        }
        return (field("RssAnon"), field("RssFile"))
    }

    /// Open descriptors of a process, and how many of them are sockets.
    static func descriptors(of pid: pid_t) -> (all: Int, sockets: Int) {
        let folder = "/proc/\(pid)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let sockets = entries.count { (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\($0)"))?.hasPrefix("socket:") == true }
        return (entries.count, sockets)
    }

    /// Runs `body` on `count` threads at once (the admin clients block); the first failure fails all.
    static func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            DispatchQueue.global().async {
                let failures = Locked([String]())
                DispatchQueue.concurrentPerform(iterations: count) { worker in
                    do { try body(worker) } catch { failures.update { $0.append("\(error)") } }
                }
                if let failure = failures.value.first { continuation.resume(throwing: BenchFailure(failure)) } else { continuation.resume() }
            }
        }
    }
}
