import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// `GET /v1/events` and `accordctl watch` against real accordd processes.
@Suite("Event stream end to end", .serialized)
struct EventStreamTests {
    /// `accordctl watch` on `node`, its stdout tapped line by line with the time each arrived.
    private static func watch(_ node: DaemonNode, _ arguments: [String] = []) async throws -> (Subprocess, LineTap) {
        let before = try await Self.subscribers(node)
        let tap = try LineTap(in: node.folder, name: "watch-\(UUID().uuidString.prefix(8)).fifo")
        let process = try Subprocess.spawn(
            Binaries.accordctl, ["watch", "--json", "--socket", node.socket] + arguments, stdout: tap.path, stderr: "\(node.folder)/watch.err"
        )
        try await eventually("accordctl watch subscribed") { try await Self.subscribers(node) > before }
        return (process, tap)
    }

    private static func subscribers(_ node: DaemonNode) async throws -> Int {
        let metrics = try await node.admin().get("/metrics").text
        let line = metrics.split(separator: "\n").first { $0.hasPrefix("accord_event_subscribers ") }
        return Int(line?.split(separator: " ").last ?? "") ?? 0
    }

    private static func events(_ tap: LineTap) -> [(event: NodeEvent, latency: Double)] {
        tap.all.compactMap { line in
            guard let event = try? JSONDecoder().decode(NodeEvent.self, from: Data(line.text.utf8)),
                let at = ISO8601DateFormatter.withFractions.date(from: event.at)
            else { return nil }
            return (event, line.readAt.timeIntervalSince(at) * 1000)
        }
    }

    @Test("accordctl watch prints each event as it is stored: created, approvals from both parties, active, a change of terms making approvals stale, a peer leaving; a watcher resumes with --since")
    func watchAPartnership() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            _ = try await acme.waitForSession(with: "globex/node1")
            let (watcher, tap) = try await Self.watch(acme)
            defer { watcher.signal(SIGTERM) }

            let id = try await acme.createAgreement("Joint support desk", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "approve", id).succeeded)
            try await eventually("globex has the agreement") { try await globex.ctl("agreements", "show", id).succeeded }
            #expect(try await globex.ctl("agreements", "approve", id).succeeded)
            try await eventually("acme sees it active") { Self.events(tap).contains { $0.event.type == .statusChanged && $0.event.to == "active" } }
            #expect(try await globex.ctl("agreements", "set", id, "framework.serviceCoverage", "EU and UK").succeeded)
            try await eventually("acme hears of stale approvals") { Self.events(tap).contains { $0.event.type == .approvalsStale } }
            _ = try await globex.stop()
            try await eventually("acme hears globex left") { Self.events(tap).contains { $0.event.type == .peerDisconnected } }

            let seen = Self.events(tap)
            let kinds = seen.map(\.event.type)
            print("accordctl watch on acme: \(kinds.map(\.rawValue))")
            for kind: NodeEvent.Kind in [.agreementCreated, .approvalGiven, .statusChanged, .agreementChanged, .approvalsStale, .peerDisconnected] {
                #expect(kinds.contains(kind), "\(kind) was printed")
            }
            let approvals = seen.filter { $0.event.type == .approvalGiven }.compactMap(\.event.organisation)
            #expect(approvals == ["acme", "globex"], "each party's approval, in order")
            #expect(seen.filter { $0.event.agreement != nil }.allSatisfy { $0.event.agreement == id })
            let changed = seen.first { $0.event.type == .agreementChanged }?.event
            #expect(changed?.fields == ["framework.serviceCoverage"] && changed?.by == "globex/node1")

            // From the moment the change is stored (the event's time) to the line read from accordctl.
            let latencies = seen.map(\.latency).sorted()
            let median = latencies[latencies.count / 2]
            print("event latency, stored → printed by accordctl watch: median \(String(format: "%.1f", median)) ms, worst \(String(format: "%.1f", latencies.last!)) ms over \(latencies.count) events")
            #expect(median < 100, "events reach accordctl watch within 100 ms of being stored")

            // A watcher that lost its connection resumes after the last id it printed.
            let ids = seen.map(\.event.id)
            let resumed = try await acme.ctl("watch", "--json", "--since", ids[1], "--count", "2")
            #expect(resumed.succeeded, "\(resumed.stderr)")
            let replayed = resumed.stdout.split(separator: "\n").compactMap { try? JSONDecoder().decode(NodeEvent.self, from: Data($0.utf8)) }
            #expect(replayed.map(\.id) == Array(ids[2...3]))
            let filtered = try await acme.ctl("watch", "--json", "--since", ids[0].split(separator: ".")[0] + ".0", "--agreement", id, "--count", "1")
            #expect(filtered.stdout.contains("\"agreement-created\""), "\(filtered.stdout)")
        }
    }

    @Test("subscribers that stop reading while 2,000 events are published: a late reader gets its queue then events-lost, one that reads nothing for 10 s is cut off; accordd's memory stays bounded; drops are counted and logged")
    func stalledSubscribers() async throws {
        let nodes = try daemonMesh(["acme"])
        let acme = nodes[0]
        try await withNodes(nodes) {
            try await acme.start()
            let late = try acme.admin().stalledRequest("/v1/events")
            defer { close(late) }
            let dead = try acme.admin().stalledRequest("/v1/events")
            defer { close(dead) }
            try await eventually("both subscribers are counted") { try await Self.subscribers(acme) == 2 }
            let memoryBefore = try #require(acme.memory).resident
            for round in 0..<2 {
                let request = BulkCreateRequest(agreements: (0..<1000).map {
                    CreateAgreementRequest(
                        title: "Flood \(round)-\($0) " + String(repeating: "x", count: 200), category: "technicalResources", parties: ["acme", "globex"],
                        allowUnknownParties: true
                    )
                })
                let response = try await acme.admin().request("POST", "/v1/agreements/bulk", body: Array(try AdminAPI.encoder().encode(request)))
                #expect(response.status == 200, "\(response.text)")
            }
            // The late reader starts reading within the grace the node gives it.
            let received = String(decoding: try await AdminSocketClient.drain(late), as: UTF8.self)
            let delivered = received.components(separatedBy: "event: agreement-created").count - 1
            print("late event subscriber: \(delivered) events, then: \(received.suffix(300))")
            #expect(received.contains("event: events-lost"), "the late reader is told it lost events")
            #expect(received.contains("resync"), "and how to resync")
            #expect(delivered < 2000, "\(delivered) events delivered before the drop")
            try await eventually("the subscriber that never reads is cut off") { try await Self.subscribers(acme) == 0 }
            let growth = try #require(acme.memory).resident - memoryBefore
            print("two stalled event subscribers under 2,000 events: accordd resident memory +\(Int(growth)) MB")
            #expect(growth < 64, "memory stays bounded with subscribers that do not read")
            let metrics = try await acme.admin().get("/metrics").text
            #expect(metrics.contains("accord_event_subscribers_refused_total{reason=\"fell-behind\"} 2"), "\(metrics)")
            #expect(acme.log.contains("subscriber-fell-behind"), "the drop is logged with its reason")
        }
    }
}
