import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// A consortium's certificates over the years, on real accordd processes (docs/operations.md:
/// rotate a certificate, revoke a node, roll the CA, certificate expiry).
@Suite("Certificate lifecycle", .serialized)
struct CertificateLifecycleTests {
    @Test("rotate a certificate: after reload new sessions present the new one, the live session is kept, and a partner node that joins later verifies changes signed with the old key and the new")
    func rotate() async throws {
        let pki = try await TestConsortium(["acme:node1", "globex:node1,node2"])
        defer { pki.remove() }
        let nodes = try consortiumNodes(["acme", "globex"], pki: pki)
        let (acme, globex) = (nodes[0], nodes[1])
        let latecomer = try DaemonNode("globex", name: "node2", port: try freePorts(1)[0])
        latecomer.certificates = pki.folder
        latecomer.crl = pki.crl
        latecomer.peers = [acme.address]
        try await withNodes(nodes + [latecomer]) {
            for node in nodes { try await node.start() }
            let session = try await globex.waitForSession(with: "acme/node1", lasting: true)
            let old = try pki.fingerprint("acme-node1")
            #expect(session.certificate?.fingerprint == old)
            let before = try await acme.createAgreement("Signed with the old key", parties: ["acme", "globex"])

            try await pki.reissue("acme:node1")
            let new = try pki.fingerprint("acme-node1")
            let reload = try await acme.reload()
            #expect(reload.succeeded && reload.stdout.contains("certificate renewed"), "\(reload.stdout) \(reload.stderr)")
            let status: NodeStatus = try await acme.json("status")
            #expect(status.certificate?.fingerprint == new)
            let kept = try #require(try await globex.peer("acme/node1"))
            #expect(kept.connected && kept.connectedSince == session.connectedSince, "the live session is kept")

            let after = try await acme.createAgreement("Signed with the new key", parties: ["acme", "globex"])
            try await eventually("globex accepted the change signed with the new key") { try await globex.agreementIDs().contains(after) }

            // A new session presents the new certificate; a node that never met the old one
            // receives both agreements, their changes verified with the old key and the new.
            try await latecomer.start()
            let fresh = try await latecomer.waitForSession(with: "acme/node1")
            #expect(fresh.certificate?.fingerprint == new)
            try await eventually("the latecomer holds both agreements") { try await latecomer.agreementIDs().isSuperset(of: [before, after]) }
            #expect(try await latecomer.metric("accord_changes_rejected_total", reason: "unknown-author") == 0)
            #expect(try await latecomer.metric("accord_changes_rejected_total", reason: "bad-signature") == 0)

            // After a restart acme still vouches for its old certificate.
            try await acme.stop()
            try await acme.start()
            try await acme.waitForSession(with: "globex/node1")
        }
    }

    @Test("revoke a node: after reload its session is closed and it cannot reconnect, while its partners' sessions go on")
    func revoke() async throws {
        let pki = try await TestConsortium(["acme:node1", "globex:node1,node2"])
        defer { pki.remove() }
        let nodes = try consortiumNodes(["acme", "globex"], pki: pki)
        let acme = nodes[0]
        let revoked = try DaemonNode("globex", name: "node2", port: try freePorts(1)[0])
        revoked.certificates = pki.folder
        revoked.peers = [acme.address]
        try await withNodes(nodes + [revoked]) {
            for node in nodes + [revoked] { try await node.start() }
            try await acme.waitForSession(with: "globex/node2")
            let id = try await acme.createAgreement("Before the revocation", parties: ["acme", "globex"])
            try await eventually("globex/node2 has the agreement") { try await revoked.agreementIDs().contains(id) }

            try await pki.revoke("globex-node2")
            let reload = try await acme.reload()
            #expect(reload.succeeded, "\(reload.stderr)")
            #expect(reload.stdout.contains("newly revoked: globex/node2") && reload.stdout.contains("session closed: globex/node2 (certificate-revoked)"), "\(reload.stdout)")
            try await eventually("globex/node2 is refused at the handshake") {
                try await acme.metric("accord_connections_refused_total", reason: "certificate-revoked") >= 1
            }
            #expect(try await acme.peer("globex/node2")?.connected == false)
            try await acme.waitForSession(with: "globex/node1")
        }
    }

    @Test("roll the CA: both CAs in the CA file, certificates re-issued under the new one, the old node certificates revoked; sessions keep working at every step and history stays verifiable")
    func rollCA() async throws {
        let old = try await TestConsortium(["acme:node1", "globex:node1,node2"], caName: "Accord Consortium CA 2026")
        let new = try await TestConsortium(["acme:node1", "globex:node1"], caName: "Accord Consortium CA 2029")
        defer { old.remove(); new.remove() }
        let nodes = try consortiumNodes(["acme", "globex"], pki: old)
        let (acme, globex) = (nodes[0], nodes[1])
        let bundle = TestCertificates.temporaryFolder("accord-bundle")
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        func writeBundle(revokingOld: Bool = false) async throws {
            if revokingOld {
                try await old.revoke("acme-node1")
                try await old.revoke("globex-node1")
            }
            try (try String(contentsOfFile: old.ca, encoding: .utf8) + String(contentsOfFile: new.ca, encoding: .utf8))
                .write(toFile: "\(bundle)/ca.pem", atomically: true, encoding: .utf8)
            try (try String(contentsOfFile: old.crl, encoding: .utf8) + String(contentsOfFile: new.crl, encoding: .utf8))
                .write(toFile: "\(bundle)/crl.pem", atomically: true, encoding: .utf8)
        }
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            let session = try await acme.waitForSession(with: "globex/node1", lasting: true)
            let history = try await acme.createAgreement("Under the old CA", parties: ["acme", "globex"])

            // 1. Every node trusts both CAs (and takes both CAs' revocation lists).
            try await writeBundle()
            for node in nodes {
                node.caFile = "\(bundle)/ca.pem"
                node.crl = "\(bundle)/crl.pem"
                let result = try await node.reload()
                #expect(result.succeeded, "\(node.label): \(result.stderr)")
            }
            // 2. Each node takes a certificate from the new CA.
            for node in nodes {
                node.certificates = new.folder
                let result = try await node.reload()
                #expect(result.succeeded && result.stdout.contains("certificate renewed"), "\(node.label): \(result.stdout) \(result.stderr)")
            }
            let kept = try #require(try await acme.peer("globex/node1"))
            #expect(kept.connected && kept.connectedSince == session.connectedSince)
            // 3. The old node certificates are revoked; the live session used them, so it is
            // closed and a new one starts with the new certificates. A CRL dates a revocation to
            // the second, and a change stamped within that second counts as after it: the
            // revocation waits for the second after the last change signed with an old key.
            try await Task.sleep(until: .now + .milliseconds(1000 - Int(Date().timeIntervalSince1970 * 1000) % 1000 + 50))
            try await writeBundle(revokingOld: true)
            for node in nodes {
                let result = try await node.reload()
                #expect(result.succeeded, "\(node.label): \(result.stderr)")
            }
            try await eventually("a session with the new certificates") {
                guard let row = try await acme.peer("globex/node1"), row.connected else { return false }
                return row.certificate?.fingerprint == (try new.fingerprint("globex-node1"))
            }
            let later = try await acme.createAgreement("Under the new CA", parties: ["acme", "globex"])
            try await eventually("globex has it") { try await globex.agreementIDs().contains(later) }

            // A node that joins now, with only a new-CA certificate, gets the old history too.
            let latecomer = try DaemonNode("globex", name: "node3", port: try freePorts(1)[0])
            try await new.reissue("globex:node3")
            latecomer.certificates = new.folder
            latecomer.caFile = "\(bundle)/ca.pem"
            latecomer.crl = "\(bundle)/crl.pem"
            latecomer.peers = [acme.address]
            try await withNodes([latecomer]) {
                try await latecomer.start()
                try await eventually("the latecomer holds the history of both CAs") { try await latecomer.agreementIDs().isSuperset(of: [history, later]) }
            }
        }
    }

    @Test("a certificate that expires within 30 days is shown in status with a warning, in /metrics and in the log; an expired peer is refused at the handshake")
    func expiry() async throws {
        let pki = try await TestConsortium(["acme:node1", "globex:node1", "initech:node1"])
        defer { pki.remove() }
        try await pki.reissue("acme:node1", days: 10)
        try await TestCertificates.make(["-o", pki.folder, "--end", TestCertificates.validityDate(Date().addingTimeInterval(4)), "initech:node1"])
        let nodes = try consortiumNodes(["acme", "globex", "initech"], pki: pki)
        let (acme, globex, initech) = (nodes[0], nodes[1], nodes[2])
        try await withNodes(nodes) {
            for node in [acme, globex] { try await node.start() }
            try await acme.waitForSession(with: "globex/node1")
            let status: NodeStatus = try await acme.json("status")
            let certificate = try #require(status.certificate)
            #expect(certificate.expiresSoon && (9...10).contains(certificate.daysLeft), "\(certificate)")
            #expect(status.warnings.contains { $0.contains("this node's certificate (acme/node1) expires") }, "\(status.warnings)")
            let shown = try await acme.ctl("status")
            #expect(shown.stdout.contains("warning: this node's certificate"), "\(shown.stdout)")
            let globexStatus: NodeStatus = try await globex.json("status")
            #expect(globexStatus.warnings.contains { $0.contains("the certificate of peer acme/node1 expires") }, "\(globexStatus.warnings)")
            #expect(globexStatus.peers.first { $0.node == "acme/node1" }?.certificate?.expiresSoon == true)
            let expiry = try await acme.metric("accord_certificate_expiry_timestamp_seconds{node=\"acme/node1\"}")
            #expect(abs(expiry - Date().addingTimeInterval(10 * 86_400).timeIntervalSince1970) < 86_400 * 1.01, "\(expiry)")
            try await eventually("the warning is logged") { acme.log.contains("certificate expiry") }

            // initech's certificate expires a few seconds from now: started afterwards, it cannot start
            // (its own certificate is checked at start); its peers refuse it at the handshake.
            try await Task.sleep(for: .seconds(5))
            let process = try initech.launch()
            let ended = try #require(try await process.wait(timeout: .seconds(30)))
            #expect(ended == .exited(78) && initech.log.contains("certificate has expired"), "\(initech.log)")
            let client = try HostileClient(certificate: "initech-node1", in: pki.folder)
            await #expect(throws: (any Error).self) { try await client.session(port: acme.port) { _ in } }
            try await eventually("acme refused the expired certificate") {
                try await acme.metric("accord_connections_refused_total", reason: "certificate-expired") >= 1
            }
        }
    }
}
