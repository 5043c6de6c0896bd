import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// `accordctl reload` and SIGHUP on real accordd processes (docs/operations.md: add a partner,
/// remove one, what a reload cannot change).
@Suite("Reloading a running node", .serialized)
struct ReloadTests {
    @Test("a partner added by reload is dialled and accepted, one removed is dropped, and the session with an unaffected partner never ends")
    func partners() async throws {
        let pki = try await TestConsortium(["acme:node1", "globex:node1", "initech:node1"])
        defer { pki.remove() }
        let nodes = try consortiumNodes(["acme", "globex", "initech"], pki: pki)
        let (acme, globex, initech) = (nodes[0], nodes[1], nodes[2])
        acme.peers = [globex.address]
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            let unaffected = try await acme.waitForSession(with: "globex/node1", lasting: true)
            try await eventually("acme refuses initech, not a partner yet") {
                try await acme.metric("accord_connections_refused_total", reason: "organisation-not-configured") >= 1
            }

            // Add initech: acme dials it and accepts it from now on.
            acme.peers = [globex.address, initech.address]
            let added = try await acme.reload()
            #expect(added.succeeded && added.stdout.contains("peer added: initech at 127.0.0.1:\(initech.port)"), "\(added.stdout) \(added.stderr)")
            // The session that lasts: initech redials too, and the simultaneous-dial rule ends one
            // of two sessions a moment after both start; a reload in that moment found none open
            // (seen once, on a loaded machine).
            try await acme.waitForSession(with: "initech/node1", lasting: true)
            let shared = try await acme.createAgreement("Shared lab", parties: ["acme", "initech"])
            try await eventually("initech has the agreement acme created after the reload") { try await initech.agreementIDs().contains(shared) }

            // Remove it: its session closes and it is refused again.
            acme.peers = [globex.address]
            let removed = try await acme.reload()
            #expect(removed.succeeded && removed.stdout.contains("session closed: initech/node1 (peer-removed)"), "\(removed.stdout) \(removed.stderr)")
            try await eventually("acme has no session with initech") { try await acme.peer("initech/node1")?.connected == false }
            let refusedBefore = try await acme.metric("accord_connections_refused_total", reason: "organisation-not-configured")
            try await eventually("initech's redials are refused") {
                try await acme.metric("accord_connections_refused_total", reason: "organisation-not-configured") > refusedBefore
            }

            let globexNow = try #require(try await acme.peer("globex/node1"))
            #expect(globexNow.connected && globexNow.connectedSince == unaffected.connectedSince, "the session with globex lasted through both reloads")
            #expect(try await acme.metric("accord_reloads_total{result=\"applied\"}") == 2)
        }
    }

    @Test("a reload that fails changes nothing, keeps the node running, says why and exits non-zero: bad TOML, a missing file, a key of another certificate, a field that needs a restart")
    func refused() async throws {
        let pki = try await TestConsortium(["acme:node1,node2", "globex:node1"])
        defer { pki.remove() }
        let nodes = try consortiumNodes(["acme", "globex"], pki: pki)
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            let session = try await acme.waitForSession(with: "globex/node1", lasting: true)
            let healthy = acme.configuration()
            let cases: [(String, String, String)] = [
                ("bad TOML", healthy + "\n[[peers]\n", "is not valid TOML"),
                ("a missing CRL", healthy.replacing("crl = \"\(pki.crl)\"", with: "crl = \"\(pki.folder)/none.pem\""), "tls.crl"),
                (
                    "a key that does not match the certificate",
                    healthy.replacing("private_key = \"\(pki.folder)/acme-node1.key\"", with: "private_key = \"\(pki.folder)/acme-node2.key\""),
                    "does not match"
                ),
                (
                    "another node's certificate and key",
                    healthy.replacing("acme-node1.", with: "acme-node2."), "names acme/node1"
                ),
                ("a new data directory", healthy.replacing(acme.dataDirectory, with: acme.dataDirectory + "2"), "node.data_directory cannot change while accordd runs"),
                ("a new listen address", healthy.replacing("127.0.0.1:\(acme.port)", with: "127.0.0.1:\(acme.port + 1)"), "listen.address"),
            ]
            for (what, configuration, reason) in cases {
                let result = try await acme.reload(configuration: configuration)
                #expect(result.termination == .exited(1), "\(what): \(result.stdout)")
                #expect(result.stderr.contains(reason), "\(what): \(result.stderr)")
            }
            #expect(try await acme.metric("accord_reloads_total{result=\"refused\"}") == Double(cases.count))
            #expect(acme.log.components(separatedBy: "configuration reload refused").count - 1 == cases.count, "each refusal is logged once")
            let after = try #require(try await acme.peer("globex/node1"))
            #expect(after.connected && after.connectedSince == session.connectedSince, "the session never noticed")
            // Still working on the old configuration: an agreement reaches globex.
            let id = try await acme.createAgreement("After refused reloads", parties: ["acme", "globex"])
            try await eventually("globex has it") { try await globex.agreementIDs().contains(id) }
            let fine = try await acme.reload(configuration: healthy)
            #expect(fine.succeeded && fine.stdout.contains("nothing changed"), "\(fine.stdout) \(fine.stderr)")
        }
    }

    @Test("SIGHUP reloads as accordctl reload does; a partner that moved is followed to its new address")
    func hangup() async throws {
        let pki = try await TestConsortium(["acme:node1", "globex:node1"])
        defer { pki.remove() }
        let nodes = try consortiumNodes(["acme", "globex"], pki: pki)
        let (acme, globex) = (nodes[0], nodes[1])
        acme.peers = []
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            acme.peers = [globex.address]
            try acme.configuration().write(toFile: acme.configFile, atomically: true, encoding: .utf8)
            try #require(acme.process).signal(SIGHUP)
            try await acme.waitForSession(with: "globex/node1")
            #expect(acme.log.contains("configuration reloaded") && acme.log.contains("SIGHUP"))

            // globex moves to another port (its data and identity stay); acme is re-addressed.
            try await globex.stop()
            let moved = try AccordProcess("globex", port: try freePorts(1)[0], binaries: Binaries.folder.path, folder: globex.folder)
            (moved.certificates, moved.crl, moved.peers) = (globex.certificates, globex.crl, globex.peers)
            try await withNodes([moved]) {
                try await moved.start()
                acme.peers = [moved.address]
                let result = try await acme.reload()
                #expect(result.stdout.contains("peer added: globex at 127.0.0.1:\(moved.port)"), "\(result.stdout) \(result.stderr)")
                #expect(result.stdout.contains("peer removed: globex at 127.0.0.1:\(globex.port)"), "\(result.stdout)")
                try await eventually("acme is in session with globex at its new address") {
                    guard let row = try await acme.peer("globex/node1") else { return false }
                    return row.connected && row.address == "127.0.0.1:\(moved.port)"
                }
            }
        }
    }
}
