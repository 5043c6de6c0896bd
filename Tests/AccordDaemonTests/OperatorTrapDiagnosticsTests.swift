import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// Why is that peer not connected, and why does accordctl not answer? (issue "operator traps",
/// points 4 and 9), through real accordd processes and the real accordctl.
@Suite("Operator traps: peers an operator can diagnose, commands that return, summaries that are written", .serialized)
struct OperatorTrapDiagnosticsTests {
    @Test("a peer that is not connected says why: not reached (nothing listens), or refused by the peer (its organisation is not configured there), in peers and status")
    func lastConnectionProblem() async throws {
        let ports = try freePorts(3)
        let acme = try DaemonNode("acme", port: ports[0])
        let initech = try DaemonNode("initech", port: ports[1])
        // acme dials globex where nothing listens; initech dials acme, which does not list initech.
        acme.peers = [AccordProcess.Peer(organisation: "globex", port: ports[2])]
        initech.peers = [acme.address]
        try await withNodes([acme, initech]) {
            for node in [acme, initech] { try await node.start() }
            try await eventually("acme says why globex is not connected") {
                try await acme.json("peers", as: [PeerStatus].self).first { $0.organisation == "globex" }?.lastProblem?.reason == "connection-refused"
            }
            let globex = try #require(try await acme.json("peers", as: [PeerStatus].self).first { $0.organisation == "globex" }?.lastProblem)
            #expect(globex.origin == "network" && globex.direction == "outbound", "\(globex)")
            try await eventually("initech says acme refused it") {
                try await initech.json("peers", as: [PeerStatus].self).first { $0.organisation == "acme" }?.lastProblem?.origin == "refused-by-peer"
            }
            let text = try await initech.ctl("peers")
            #expect(text.stdout.contains("last problem: refused by the peer (outbound"), "\(text.stdout)")
            let status = try await acme.ctl("status")
            #expect(status.stdout.contains("last problem: not reached (outbound") && status.stdout.contains("connection-refused"), "\(status.stdout)")
        }
    }

    @Test("accordctl returns by its --timeout from a node stopped with SIGSTOP; sync --wait --timeout N returns by N against a paused partner, in words, never a Swift error's name")
    func commandsReturnOnTime() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            try await acme.waitForSession(with: "globex/node1", lasting: true)
            _ = try await acme.createAgreement("Waiting for a paused partner", parties: ["acme", "globex"])

            let paused = try #require(globex.process)
            paused.signal(SIGSTOP)
            defer { paused.signal(SIGCONT) }
            let started = ContinuousClock.now
            let status = try await globex.ctl("status", "--timeout", "2")
            let took = ContinuousClock.now - started
            #expect(status.termination == .exited(2), "\(status)")
            #expect(status.stderr.contains("did not answer within 2 s"), "\(status.stderr)")
            #expect(took < .seconds(5), "returned after \(took)")

            let waited = ContinuousClock.now
            let sync = try await acme.ctl("sync", "--wait", "--timeout", "5")
            let syncTook = ContinuousClock.now - waited
            #expect(sync.termination == .exited(3), "\(sync)")
            #expect(syncTook < .seconds(8), "sync --wait --timeout 5 returned after \(syncTook)")
            let output = sync.stdout + sync.stderr
            #expect(output.contains("not in sync after 5s"), "\(output)")
            #expect(!output.contains("Error(") && !output.contains("CancellationError"), "no Swift error type: \(output)")
            paused.signal(SIGCONT)
        }
    }

    /// How the twins meet acme: acme's rule keeps an outbound session with globex over an inbound
    /// one, and replaces an inbound one by a newer inbound one (`SessionRegistry.keepsExisting`).
    enum TwinMeeting: String, CaseIterable, Sendable {
        /// acme dials the first twin (which does not dial: its acme entry points where nothing
        /// listens) and keeps that session; every session of the second is closed as a duplicate
        /// while the first one's is heard from.
        case keptWhileAlive = "acme keeps the session it dialled"
        /// acme dials neither (its globex entry points where nothing listens); each twin's
        /// session replaces the other's.
        case replacedInTurn = "their sessions replace each other"
    }

    @Test("two processes with one certificate are reported as a duplicate node identity, naming it, in the log and in status", arguments: TwinMeeting.allCases)
    func duplicateIdentity(_ meeting: TwinMeeting) async throws {
        let ports = try freePorts(5)
        let acme = try DaemonNode("acme", port: ports[0])
        let first = try DaemonNode("globex", port: ports[1])
        let second = try DaemonNode("globex", port: ports[2])
        let nowhere = (acme: AccordProcess.Peer(organisation: "acme", port: ports[3]), globex: AccordProcess.Peer(organisation: "globex", port: ports[4]))
        switch meeting {
        case .keptWhileAlive:
            acme.peers = [first.address]
            first.peers = [nowhere.acme]
        case .replacedInTurn:
            acme.peers = [nowhere.globex]
            first.peers = [acme.address]
        }
        second.peers = [acme.address]
        try await withNodes([acme, first, second]) {
            for node in [acme, first] { try await node.start() }
            if meeting == .keptWhileAlive {
                // The preferred session, and only it: the first twin's own dial is refused.
                try await eventually("acme's session with the first twin is the one it dialled") {
                    try await acme.peer("globex/node1")?.direction == "outbound"
                }
            }
            try await second.start()
            try await eventually("acme warns of two processes with globex/node1's certificate", timeout: .seconds(120)) {
                acme.log.contains("duplicate node identity") && acme.log.contains("certificate of globex/node1")
            }
            let status: NodeStatus = try await acme.json("status")
            #expect(status.warnings.contains { $0.contains("two processes appear to run with the certificate of globex/node1") }, "\(status.warnings)")
        }
    }

    @Test(
        "a port in use — the peers', the console's or the metrics' — is a clear error before 'accordd started', with exit status 75",
        arguments: ["listen.address", "console.address", "metrics.address"]
    )
    func portInUse(field: String) async throws {
        let nodes = try daemonMesh(["acme"])
        let acme = nodes[0]
        acme.consolePort = try freePorts(1)[0]
        acme.metricsPort = try freePorts(1)[0]
        let twin = try DaemonNode("acme", port: field == "listen.address" ? acme.port : try freePorts(1)[0])
        twin.consolePort = field == "console.address" ? acme.consolePort : nil
        twin.metricsPort = field == "metrics.address" ? acme.metricsPort : nil
        let taken = [("listen.address", acme.port), ("console.address", acme.consolePort!), ("metrics.address", acme.metricsPort!)]
            .first { $0.0 == field }!.1
        try await withNodes(nodes + [twin]) {
            try await acme.start()
            let process = try twin.launch()
            // A listener that cannot bind after others started must still stop the whole node.
            let ended = try #require(try await process.wait(timeout: .seconds(30)), "the second accordd did not stop")
            #expect(ended == .exited(75), "\(twin.log)")
            #expect(twin.log.contains("\(field): 127.0.0.1:\(taken) is in use by another process"), "\(twin.log)")
            #expect(!twin.log.contains("accordd started"), "\(twin.log)")
        }
    }

    @Test("a flood of admin connections beyond the limit is logged once, then as one summary line per interval")
    func refusalSummaryIsWritten() async throws {
        let nodes = try daemonMesh(["acme"])
        let acme = nodes[0]
        try await withNodes(nodes) {
            try await acme.start()
            // 32 connections that send nothing hold every slot; the next ones are refused.
            var held: [Int32] = []
            defer { for socket in held { close(socket) } }
            for _ in 0..<40 { held.append(try AdminSocketClient.connect(acme.socket)) }
            try await eventually("the refusals are counted in the log") { acme.log.contains("too-many-admin-connections") }
            try await eventually("the rest of the window is summarised in one line", timeout: .seconds(40)) {
                acme.log.contains("more refusals of the same reason (summarised)") && acme.log.contains("reason=too-many-admin-connections")
            }
            let fullLines = acme.log.split(separator: "\n").count { $0.contains("HTTP connection refused") }
            #expect(fullLines == 1, "one refusal in full, the others summarised: \(fullLines)")
        }
    }
}
