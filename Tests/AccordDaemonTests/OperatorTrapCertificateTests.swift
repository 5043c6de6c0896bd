import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// The certificate traps an operator met (issue "operator traps", points 1–3), through real
/// accordd processes, the real accordctl and the operators' own make-certs.sh: a CRL that
/// expires, a pre-start check that checked nothing, a revoked partner that looked healthy.
@Suite("Operator traps: CRL lifetime, the configuration check, revoked peers", .serialized)
struct OperatorTrapCertificateTests {
    /// `accordd --config FILE --check-config`.
    private static func checkConfig(_ file: String) async throws -> CommandResult {
        try await Subprocess.run(Binaries.accordd, ["--config", file, "--check-config"], timeout: .seconds(30))
    }

    /// Starts `node` with `configuration` and waits for it to end by itself (start refused).
    private static func refusedStart(_ node: DaemonNode, configuration: String) async throws -> Subprocess.Termination {
        let process = try node.launch(configuration: configuration)
        guard let ended = try await process.wait(timeout: .seconds(30)) else {
            process.signal(SIGKILL)
            _ = try await process.wait()
            throw TestFailure("\(node.label) started with a configuration it should refuse; log:\n\(node.logTail)")
        }
        return ended
    }

    @Test("--check-config refuses every broken file that start refuses, with the same words: another organisation's certificate, a key that does not match, a wrong node name, a foreign CA, a garbage CA file, a key others can read, an expired CRL")
    func checkConfigChecksWhatStartChecks() async throws {
        let pki = try await TestConsortium(["acme:node1", "globex:node1"])
        defer { pki.remove() }
        let rogue = try await TestConsortium(["acme:node1"], caName: "Rogue CA")
        defer { rogue.remove() }
        let node = try DaemonNode("acme", port: try freePorts(1)[0])
        node.certificates = pki.folder
        defer { node.remove() }
        let garbage = "\(node.folder)/garbage-ca.pem"
        try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let readableKey = "\(node.folder)/readable.key"
        try FileManager.default.copyItem(atPath: "\(pki.folder)/acme-node1.key", toPath: readableKey)
        chmod(readableKey, 0o644)
        let expiredCRL = "\(node.folder)/expired-crl.pem"
        try await TestCertificates.make(["-o", pki.folder, "--crl", "--crl-seconds", "1"])
        try FileManager.default.copyItem(atPath: pki.crl, toPath: expiredCRL)
        try await TestCertificates.make(["-o", pki.folder, "--crl"])
        try await Task.sleep(for: .seconds(2))

        let healthy = node.configuration()
        let key = "\(pki.folder)/acme-node1.key"
        let cases: [(name: String, configuration: String, says: String)] = [
            ("another organisation's certificate", node.configuration(certificate: "\(pki.folder)/globex-node1.pem")
                .replacingOccurrences(of: key, with: "\(pki.folder)/globex-node1.key"), "the certificate is for O=globex, CN=node1, but [node] names acme/node1"),
            ("a key that does not match", healthy.replacingOccurrences(of: key, with: "\(pki.folder)/globex-node1.key"), "does not match the certificate"),
            ("a wrong node name", healthy.replacingOccurrences(of: "name = \"node1\"", with: "name = \"node9\""), "but [node] names acme/node9"),
            ("a foreign CA", healthy.replacingOccurrences(of: pki.ca, with: rogue.ca), "not usable with tls.ca"),
            ("a garbage CA file", healthy.replacingOccurrences(of: pki.ca, with: garbage), "garbage-ca.pem"),
            ("a key others can read", healthy.replacingOccurrences(of: key, with: readableKey), "other users can access it (mode 644)"),
            ("an expired CRL", healthy.replacingOccurrences(of: "[tls]\n", with: "[tls]\ncrl = \"\(expiredCRL)\"\n"), "expired at"),
        ]
        for (name, configuration, says) in cases {
            try configuration.write(toFile: node.configFile, atomically: true, encoding: .utf8)
            let checked = try await Self.checkConfig(node.configFile)
            #expect(checked.termination == .exited(78), "\(name): --check-config \(checked.termination): \(checked.stdout)")
            #expect(checked.stderr.contains(says), "\(name): \(checked.stderr)")
            let prefix = "accordd: bad configuration: \(node.configFile): "
            let reason = try #require(checked.stderr.split(separator: "\n").first { $0.hasPrefix(prefix) }?.dropFirst(prefix.count), "\(name): \(checked.stderr)")
            try? FileManager.default.removeItem(atPath: node.logFile)
            #expect(try await Self.refusedStart(node, configuration: configuration) == .exited(78), "\(name): start")
            #expect(node.log.contains(String(reason)), "\(name): start says what --check-config said: \(reason)\n\(node.log)")
        }
        try healthy.write(toFile: node.configFile, atomically: true, encoding: .utf8)
        let passed = try await Self.checkConfig(node.configFile)
        #expect(passed.succeeded && passed.stdout.contains("configuration is valid"), "\(passed.stdout)\(passed.stderr)")
    }

    @Test("a CRL that expires while the node runs: status, the metric and the log say so (warned a week ahead); new handshakes still succeed and the certificates it lists are still refused; reload refuses it until a fresh CRL is installed")
    func revocationListExpiry() async throws {
        let pki = try await TestConsortium(["acme:node1", "globex:node1,node2"])
        defer { pki.remove() }
        try await pki.revoke("globex-node2")
        let nodes = try consortiumNodes(["acme", "globex"], pki: pki)
        let (acme, globex) = (nodes[0], nodes[1])
        globex.crl = nil
        let revoked = try DaemonNode("globex", name: "node2", port: try freePorts(1)[0])
        revoked.certificates = pki.folder
        revoked.peers = [acme.address]
        try await withNodes(nodes + [revoked]) {
            // A week's notice: a CRL valid for three days is warned of by --check-config and status.
            try await TestCertificates.make(["-o", pki.folder, "--crl", "--crl-days", "3"])
            try acme.configuration().write(toFile: acme.configFile, atomically: true, encoding: .utf8)
            let checked = try await Self.checkConfig(acme.configFile)
            #expect(checked.succeeded && checked.stdout.contains("warning: the revocation list of") && checked.stdout.contains("in 2 day(s)"), "\(checked.stdout)")

            try await TestCertificates.make(["-o", pki.folder, "--crl", "--crl-seconds", "15"])
            for node in nodes { try await node.start() }
            try await acme.waitForSession(with: "globex/node1")
            let status: NodeStatus = try await acme.json("status")
            let list = try #require(status.revocationLists?.first)
            #expect(!list.expired && list.nextUpdate != nil && list.file == pki.crl)
            #expect(status.warnings.contains { $0.contains("the revocation list of") && $0.contains("expires at") }, "\(status.warnings)")
            #expect(try await acme.metric("accord_crl_next_update_timestamp_seconds", label: "issuer", list.issuer) > Date().timeIntervalSince1970)

            try await eventually("acme reports the CRL expired", timeout: .seconds(40), every: .milliseconds(250)) {
                let status: NodeStatus = try await acme.json("status")
                return status.revocationLists?.first?.expired == true
                    && status.warnings.contains { $0.contains("expired at") && $0.contains("make-certs.sh --crl") }
            }
            try await eventually("acme's log says it at once") { acme.log.contains("certificate or revocation list expired") }
            let text = try await acme.ctl("status")
            #expect(text.stdout.contains("revocation list:") && text.stdout.contains("EXPIRED"), "\(text.stdout)")

            // New handshakes with the expired list: globex, restarted, is back in session...
            try await globex.stop()
            try await globex.start()
            try await acme.waitForSession(with: "globex/node1", timeout: .seconds(30))
            // ...and the node the list revokes is still refused.
            let before = try await acme.metric("accord_connections_refused_total", reason: "certificate-revoked")
            try await revoked.start()
            try await eventually("globex/node2 is refused as revoked") {
                try await acme.metric("accord_connections_refused_total", reason: "certificate-revoked") > before
            }
            #expect(try await acme.peer("globex/node2")?.connected != true)

            let refused = try await acme.reload()
            #expect(refused.termination == .exited(1) && refused.stderr.contains("expired at"), "\(refused.stderr)")
            try await TestCertificates.make(["-o", pki.folder, "--crl"])
            let applied = try await acme.reload()
            #expect(applied.succeeded, "\(applied.stderr)")
            let refreshed: NodeStatus = try await acme.json("status")
            #expect(refreshed.revocationLists?.first?.expired == false)
            #expect(!refreshed.warnings.contains { $0.contains("revocation list") }, "\(refreshed.warnings)")
        }
    }

    @Test("a revoked partner node: shown as revoked with its date, warned of while [[peers]] still lists it, dialled again only rarely, and reported apart by sync --wait, which succeeds")
    func revokedPeer() async throws {
        let pki = try await TestConsortium(["acme:node1", "globex:node2"])
        defer { pki.remove() }
        let ports = try freePorts(3)
        let acme = try DaemonNode("acme", port: ports[0])
        let node2 = try DaemonNode("globex", name: "node2", port: ports[1])
        for node in [acme, node2] { node.certificates = pki.folder }
        acme.crl = pki.crl
        acme.peers = [node2.address]
        // node2 accepts acme but its own dials go where nothing listens: every connection it
        // sees is one acme dialled.
        node2.peers = [AccordProcess.Peer(organisation: "acme", port: ports[2])]
        try await withNodes([acme, node2]) {
            for node in [acme, node2] { try await node.start() }
            try await acme.waitForSession(with: "globex/node2")

            try await pki.revoke("globex-node2")
            #expect(try await acme.reload().stdout.contains("session closed: globex/node2 (certificate-revoked)"))
            /// Connections node2 saw end before a session, whatever the reason: acme's dials.
            func attempts() async throws -> Double {
                try await node2.admin().get("/metrics").text.split(separator: "\n")
                    .filter { $0.hasPrefix("accord_connections_refused_total{") }
                    .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
            }
            try await eventually("acme dialled the revoked node again and refused it", timeout: .seconds(60)) { try await attempts() >= 1 }
            let problem = try #require(try await acme.peer("globex/node2")?.lastProblem)
            #expect(problem.origin == "refused-here" && problem.reason == "certificate-revoked" && problem.direction == "outbound", "\(problem)")
            let first = try await attempts()
            try await Task.sleep(for: .seconds(8))
            #expect(try await attempts() == first, "a revoked node is not dialled again within seconds (its redial waits an hour)")

            let row = try #require(try await acme.peer("globex/node2"))
            #expect(row.certificate?.revokedAt != nil && !row.awaited && !row.connected, "\(row)")
            let status: NodeStatus = try await acme.json("status")
            #expect(status.warnings.contains { $0.contains("globex/node2 was revoked at") && $0.contains("[[peers]] still lists globex") }, "\(status.warnings)")
            let peers = try await acme.ctl("peers")
            #expect(peers.stdout.contains("REVOKED at"), "\(peers.stdout)")
            let synced = try await acme.ctl("sync", "--wait", "--timeout", "20")
            #expect(synced.succeeded, "\(synced.stdout)\(synced.stderr)")
            #expect(synced.stdout.contains("not waited for: globex/node2 (certificate revoked at"), "\(synced.stdout)")
        }
    }
}
