import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// Faults of the link and of the process that the chaos soak does not make yet: a link that
/// carries one direction only, and a node frozen (SIGSTOP) for longer than the idle timeout while
/// its partner pushes to it. Real accordd processes; every change acknowledged to accordctl must
/// be at both nodes afterwards, and their histories identical.
@Suite("Link and process faults", .serialized)
struct LinkFaultTests {
    /// acme and globex, each reachable by the other only through a proxy in front of it.
    private static func linkedPair() async throws -> (nodes: [DaemonNode], toAcme: FaultProxy, toGlobex: FaultProxy) {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        let toAcme = try await FaultProxy(to: acme.port)
        let toGlobex = try await FaultProxy(to: globex.port)
        acme.peers = [AccordProcess.Peer(organisation: "globex", port: toGlobex.port)]
        globex.peers = [AccordProcess.Peer(organisation: "acme", port: toAcme.port)]
        return (nodes, toAcme, toGlobex)
    }

    private static func notes(_ node: DaemonNode, _ id: String, _ count: Int, _ label: String) async throws {
        for index in 0..<count {
            let added = try await node.ctl("agreements", "note", id, "\(label) \(index)")
            #expect(added.succeeded, "\(node.label): \(added.stderr)")
        }
    }

    private static func history(_ node: DaemonNode, _ id: String) async throws -> Set<String> {
        Set(try await node.json("agreements", "history", id, as: [HistoryItem].self).map(\.change))
    }

    private static func converged(_ acme: DaemonNode, _ globex: DaemonNode, _ id: String, changes: Int) async throws {
        try await eventually("both hold all \(changes) changes, the same ones", timeout: .seconds(60)) {
            let (a, g) = (try await history(acme, id), try await history(globex, id))
            return a.count == changes && a == g
        }
    }

    @Test("one-way partitions: with acme's bytes to globex held, globex's edits still reach acme and acme's wait; the reverse; healed, both hold every acknowledged change and the dial rate stayed bounded")
    func oneWay() async throws {
        let (nodes, toAcme, toGlobex) = try await Self.linkedPair()
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            _ = try await acme.waitForSession(with: "globex/node1")
            let id = try await acme.createAgreement("One-way links", parties: ["acme", "globex"])
            try await eventually("globex has it") { try await globex.agreementIDs().contains(id) }

            // acme → globex held (towards globex on globex's proxy, from acme on acme's), globex → acme
            // passes: the live session carries globex's notes to acme; acme's wait.
            toGlobex.set(.stallToNode)
            toAcme.set(.stallFromNode)
            let dialsBefore = try await acme.metric("accord_dial_failures_total") + acme.metric("accord_sessions_established_total")
            try await Self.notes(acme, id, 5, "acme, unheard")
            try await Self.notes(globex, id, 5, "globex, heard")
            // Without acknowledgements globex sends as many batches as its send window holds (4),
            // one note each, and then waits: bounded, as flow control must be.
            try await eventually("globex's notes reach acme over the open direction, a send window of them") {
                try await Self.history(acme, id).count == 1 + 5 + 4
            }
            #expect(try await Self.history(globex, id).count == 6, "acme's notes did not reach globex")
            // The idle timeout ends the half-dead session; no new one can start (a handshake needs
            // both directions), and the redials back off instead of storming.
            try await Task.sleep(for: .seconds(10))
            let dials = try await acme.metric("accord_dial_failures_total") + acme.metric("accord_sessions_established_total") - dialsBefore
            print("one-way partition, 10 s: acme dialled \(Int(dials)) time(s)")
            #expect(dials <= 8, "redials back off: \(dials) in 10 s")
            toGlobex.set(.pass)
            toAcme.set(.pass)
            try await Self.converged(acme, globex, id, changes: 11)
            _ = try await acme.waitForSession(with: "globex/node1")

            // The reverse on the live session: globex → acme held, acme → globex passes.
            toGlobex.set(.stallFromNode)
            toAcme.set(.stallToNode)
            try await Self.notes(globex, id, 5, "globex, unheard")
            try await Self.notes(acme, id, 5, "acme, heard")
            try await eventually("acme's notes reach globex over the open direction, a send window of them") {
                try await Self.history(globex, id).count == 11 + 5 + 4
            }
            #expect(try await Self.history(acme, id).count == 16, "globex's notes did not reach acme")

            toGlobex.set(.pass)
            toAcme.set(.pass)
            try await Self.converged(acme, globex, id, changes: 21)
        }
        await toAcme.close()
        await toGlobex.close()
    }

    @Test("a node frozen (SIGSTOP) longer than the idle timeout while its partner pushes to it catches up when it wakes; nothing acknowledged is lost")
    func pause() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            _ = try await acme.waitForSession(with: "globex/node1")
            let id = try await acme.createAgreement("Frozen partner", parties: ["acme", "globex"])
            try await eventually("globex has it") { try await globex.agreementIDs().contains(id) }
            let frozen = try #require(globex.process)
            frozen.signal(SIGSTOP)
            try await Self.notes(acme, id, 20, "while globex is frozen")
            // Past the idle timeout (5 s in the tests): acme gives the silent session up.
            try await eventually("acme ends the session with the frozen node", timeout: .seconds(30)) {
                try await acme.peer("globex/node1")?.connected == false
            }
            frozen.signal(SIGCONT)
            try await Self.converged(acme, globex, id, changes: 21)
            _ = try await acme.waitForSession(with: "globex/node1")
        }
    }
}

/// A node certificate that expires while the node runs (issue 17, "certificate expiry").
@Suite("Certificate expiry during a run", .serialized)
struct CertificateExpiryRunTests {
    @Test("globex's certificate expires during the run: once its session ends it is refused at every handshake with the reason logged once and counted, its redials back off, and a renewed certificate loaded by reload restores sync")
    func expiresWhileRunning() async throws {
        let pki = try await TestConsortium(["acme:node1", "globex:node1"])
        defer { pki.remove() }
        let nodes = try consortiumNodes(["acme", "globex"], pki: pki)
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            // Its six seconds start once it is this test's turn to run nodes.
            try await pki.reissue("globex:node1", until: Date().addingTimeInterval(6))
            for node in nodes { try await node.start() }
            _ = try await acme.waitForSession(with: "globex/node1")
            let id = try await acme.createAgreement("Outlives a certificate", parties: ["acme", "globex"])
            try await eventually("globex has it") { try await globex.agreementIDs().contains(id) }

            // Past the expiry, the session is ended (acme restarts); globex cannot come back.
            try await Task.sleep(for: .seconds(7))
            _ = try await acme.stop()
            try await acme.start()
            #expect(try await acme.ctl("agreements", "note", id, "while globex is locked out").succeeded)
            try await eventually("acme refuses globex's expired certificate", timeout: .seconds(30)) {
                try await acme.metric("accord_connections_refused_total", reason: "certificate-expired") >= 1
            }
            let refusedBefore = try await acme.metric("accord_connections_refused_total", reason: "certificate-expired")
            try await Task.sleep(for: .seconds(10))
            let refused = try await acme.metric("accord_connections_refused_total", reason: "certificate-expired") - refusedBefore
            print("expired certificate: \(Int(refused)) refused handshake(s) in 10 s")
            // Both nodes dial each other, each with exponential backoff and full jitter from 250 ms
            // (doubling to 30 s): about 7 attempts each in the first 10 s, never a storm.
            #expect(refused <= 20, "redials back off: \(refused) in 10 s")
            let lines = acme.log.components(separatedBy: "\n").filter { $0.contains("certificate-expired") }
            #expect((1...4).contains(lines.count), "logged once, then summarised: \(lines.joined(separator: "\n"))")
            #expect(try await acme.peer("globex/node1")?.connected != true)

            // Renewed and reloaded: sync resumes, and what acme wrote meanwhile arrives.
            try await pki.reissue("globex:node1")
            let reloaded = try await globex.reload()
            #expect(reloaded.succeeded, "\(reloaded.stdout) \(reloaded.stderr)")
            _ = try await acme.waitForSession(with: "globex/node1")
            try await eventually("globex has acme's note from the outage") {
                try await globex.json("agreements", "show", id, as: AgreementView.self).notes.contains { $0.text == "while globex is locked out" }
            }
        }
    }
}
