import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordSync
import AccordTLS
import AccordTestSupport
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The attacks of the black-box hardening review (docs/reliability.md, "Attacks"), each against
/// a real `accordd` (acme) while its honest partner globex keeps editing with it. Every attack
/// is measured by `AttackedNetwork.measure`: acme stays up, its peak memory stays within 64 MB of
/// its baseline, honest edits keep their latency, its log stays small; and each refusal is
/// counted under its own reason.
@Suite("accordd under attack", .serialized)
struct HostileNetworkTests {
    /// Frames of every type the protocol has, as an authenticated initech node floods them.
    static let floods = ["ping", "pong", "heads", "reconcile", "reconcileRequest", "certificates", "changes", "acknowledged", "hello"]

    @Test("a flood of any frame type from an authenticated peer that never reads costs acme a bounded amount", arguments: floods)
    func frameFlood(_ kind: String) async throws {
        try await AttackedNetwork.run { network in
            try await network.measure("flood of \(kind) frames", attacker: network.authenticated("flood", ["--kind", kind]))
        }
    }

    @Test("a peer that floods pings and never reads is dropped; one that reads a little is not rewarded with memory")
    func pingFloodIsDropped() async throws {
        try await AttackedNetwork.run { network in
            var client = try HostileClient(certificate: "initech-node1", in: network.pki.consortium)
            client.inboundBuffer = 1
            let attacker = client
            let ended = try await network.acme.metric("accord_sessions_ended_total", reason: "idle")
                + network.acme.metric("accord_sessions_ended_total", reason: "peer-not-reading")
            let baseline = try #require(network.acme.memory)
            let outcome = try await attacker.session(port: network.acme.port) { session in
                var nonce: UInt64 = 0
                do {
                    while true {
                        nonce &+= 1
                        try await session.send(.ping(nonce: nonce))
                    }
                } catch {
                    return "\(error)"
                }
            }
            let after = try #require(network.acme.memory)
            print("ping flood: acme \(Int(baseline.resident)) MB → \(Int(after.resident)) MB, peak \(Int(after.peak)) MB; the session ended: \(outcome)")
            try await eventually("acme counts the session it dropped") {
                try await network.acme.metric("accord_sessions_ended_total", reason: "idle")
                    + network.acme.metric("accord_sessions_ended_total", reason: "peer-not-reading") > ended
            }
            #expect(after.peak - baseline.resident <= 64)
        }
    }

    @Test("a peer that opens 200 connections and sends a large partial frame on each before its hello holds no memory for them")
    func preSessionFrames() async throws {
        try await AttackedNetwork.run { network in
            let refusedBefore = try await network.acme.metric("accord_connections_refused_total", reason: "malformed-frame")
            try await network.measure(
                "200 connections with 1 MiB partial frames before hello",
                attacker: network.authenticated("partial-frames", ["--connections", "200"])
            )
            try await eventually("acme refuses the oversized frames before any hello") {
                try await network.acme.metric("accord_connections_refused_total", reason: "malformed-frame") > refusedBefore
            }
        }
    }
}

/// Connections before authentication, probes of what a node holds, relayed authors, refused peers.
@Suite("accordd under attack, before and around the session", .serialized)
struct HostileNetworkSessionTests {
    /// The connection floods: silent TCP sockets, and TLS connections with a valid certificate
    /// (initech's, a configured peer) that never send their hello.
    enum ConnectionFlood: String, CaseIterable, Sendable {
        case silentTCP = "500 silent TCP connections"
        case tlsWithoutHello = "500 TLS connections with a valid certificate and no hello"

        /// The attacker's arguments (accord-hostile-peer).
        func attack(_ pki: HostilePKI) -> [String] {
            switch self {
            case .silentTCP: ["silent-connections", "--count", "500"]
            case .tlsWithoutHello: ["tls-connections", "--folder", pki.consortium, "--certificate", "initech-node1", "--count", "500"]
            }
        }
    }

    @Test(
        "a flood of connections, opened again as soon as they are closed: globex is served, and when it restarts it is back in session within 2 s",
        arguments: ConnectionFlood.allCases
    )
    func connectionFlood(_ flood: ConnectionFlood) async throws {
        let name = flood.rawValue
        // globex's own dials are the only way back: acme's redial would bypass the flood.
        try await AttackedNetwork.run(onlyGlobexDials: true) { network in
            let (acme, globex) = (network.acme, network.globex)
            let attack = flood.attack(network.pki)
            try await network.measure(name, attacker: attack)
            let reconnect = try await network.underAttack(attack) {
                try await globex.stop()
                let restarted = ContinuousClock.now
                try await globex.start()
                try await eventually("globex is back in session with acme", every: .milliseconds(10)) {
                    let (atGlobex, atAcme) = (try await globex.metric("accord_peers_connected"), try await acme.metric("accord_peers_connected"))
                    return atGlobex >= 1 && atAcme >= 1
                }
                return ContinuousClock.now - restarted
            }
            print("attack, \(name): globex restarted and back in session with acme in \(reconnect)")
            #expect(reconnect < .seconds(2), "a partner restarted during a connection flood reconnects within 2 s")
            #expect(try await acme.metric("accord_connections_refused_total", reason: "evicted") > 0, "silent connections were evicted")
            #expect(acme.log.contains("evicted"), "the reason is in the log")
            #expect(acme.log.components(separatedBy: "\n").count(where: { $0.contains("peer connection refused") && $0.contains("evicted") }) < 20,
                    "a flood of refusals is summarised, not logged one by one")
        }
    }

    @Test("what a non-party sees in answer to heads and reconcile probes does not depend on whether acme holds the agreement")
    func noExistenceOracle() async throws {
        try await AttackedNetwork.run { network in
            let created = try await network.acme.admin().post(
                "/v1/agreements", json: #"{"title":"Secret","category":"fullSupport","parties":["acme","globex"]}"#
            )
            let held = try AgreementID(uuidString: AdminAPI.decoder().decode(CreatedAgreement.self, from: Data(created.body)).id)!
            var random = SystemRandomNumberGenerator()
            let unknown = AgreementID(.random(using: &random))
            let prober = try HostileClient(certificate: "initech-node1", in: network.pki.consortium)
            /// What acme answers to `probe` about `agreement`, with the id blanked out.
            func answer(_ probe: @Sendable (AgreementID) -> WireMessage, about agreement: AgreementID) async throws -> [WireMessage] {
                try await prober.session(port: network.acme.port) { session in
                    try await session.send(probe(agreement))
                    // acme handles a session's frames in order: the answer about a made-up id
                    // sent next marks the end of everything it answered to the probe.
                    var random = SystemRandomNumberGenerator()
                    let sentinel = AgreementID(.random(using: &random))
                    try await session.send(.heads(HeadsMessage(entries: [.init(agreement: sentinel, heads: [])], isFinal: false)))
                    var answers: [WireMessage] = []
                    while let message = try await session.next(skipping: { if case .ping = $0 { true } else if case .pong = $0 { true } else { false } }) {
                        if case .heads(let heads) = message, heads.entries.contains(where: { $0.agreement == sentinel }) { break }
                        answers.append(message)
                    }
                    return answers.map { Self.blanking(agreement, in: $0) }
                }
            }
            let heads: @Sendable (AgreementID) -> WireMessage = { .heads(HeadsMessage(entries: [.init(agreement: $0, heads: [])], isFinal: true)) }
            let reconcile: @Sendable (AgreementID) -> WireMessage = {
                .reconcile(RangeMessage(ranges: [.init(upperBound: nil, claim: .items([ReconciliationItem(agreement: $0, headsDigest: SHA256Digest(hashing: [1]))], wantsReply: true))]))
            }
            for (name, probe) in [("heads", heads), ("reconcile", reconcile)] {
                let aboutHeld = try await answer(probe, about: held)
                let aboutUnknown = try await answer(probe, about: unknown)
                print("probe \(name): \(aboutHeld.count) answer(s) about a held agreement, \(aboutUnknown.count) about an unknown one")
                #expect(!aboutHeld.isEmpty, "\(name): acme answered the probe")
                #expect(aboutHeld == aboutUnknown, "\(name): acme answered \(aboutHeld) about the agreement it holds, \(aboutUnknown) about one it does not")
            }
        }
    }

    /// `message` with every mention of `agreement` replaced by the zero id.
    static func blanking(_ agreement: AgreementID, in message: WireMessage) -> WireMessage {
        let zero = AgreementID(UUIDBytes(high: 0, low: 0))
        switch message {
        case .heads(let heads):
            return .heads(HeadsMessage(
                entries: heads.entries.map { .init(agreement: $0.agreement == agreement ? zero : $0.agreement, heads: $0.heads) }, isFinal: heads.isFinal
            ))
        case .reconcile(let reconcile):
            return .reconcile(RangeMessage(ranges: reconcile.ranges.map { range in
                var range = range
                if range.upperBound == agreement { range.upperBound = zero }
                if case .items(let items, let wantsReply) = range.claim {
                    range.claim = .items(items.map { $0.agreement == agreement ? ReconciliationItem(agreement: zero, headsDigest: $0.headsDigest) : $0 }, wantsReply: wantsReply)
                }
                return range
            }))
        default:
            return message
        }
    }

    @Test("a revoked node's certificate relayed by a non-party, then a change signed with its key: refused as revoked-author, never stored or relayed; a globex change relayed by initech: refused as delivered-by-non-party")
    func revokedAuthorRelayedByNonParty() async throws {
        try await AttackedNetwork.run { network in
            let (acme, globex) = (network.acme, network.globex)
            let created = try await acme.admin().post(
                "/v1/agreements", json: #"{"title":"Shared","category":"fullSupport","parties":["acme","globex"]}"#
            )
            let id = try AdminAPI.decoder().decode(CreatedAgreement.self, from: Data(created.body)).id
            let agreement = try #require(AgreementID(uuidString: id))
            try await eventually("globex has the agreement") { try await globex.admin().get("/v1/agreements/\(id)").status == 200 }
            let view = try await AdminAPI.decoder().decode(AgreementView.self, from: Data(acme.admin().get("/v1/agreements/\(id)").body))
            let heads = view.heads.compactMap { HexEncoding.decode($0).flatMap { ChangeID(bytes: $0) } }
            let pki = network.pki
            let revoked = try HostileClient(certificate: "globex-revoked", in: pki.consortium)
            let honestGlobex = try HostileClient(certificate: "globex-node1", in: pki.consortium)
            let relay = try HostileClient(certificate: "initech-node1", in: pki.consortium)
            func note(by author: HostileClient, _ text: String) throws -> [UInt8] {
                try author.forge(Change(
                    agreement: agreement, stamp: Stamp(millis: HostileClient.clock(), counter: 0, node: author.node),
                    dependencies: heads, edits: [.note(text)]
                )).encoded
            }
            let byRevoked = try note(by: revoked, "signed after the revocation")
            let byGlobex = try note(by: honestGlobex, "globex's, relayed by initech")
            let acknowledged = try await relay.session(port: acme.port) { session in
                try await session.send(.certificates([revoked.tls.certificate.derRepresentation]))
                try await session.send(.changes(batch: 0, encoded: [byRevoked]))
                try await session.send(.changes(batch: 1, encoded: [byGlobex]))
                var acknowledged: [UInt32] = []
                while acknowledged.count < 2, let message = try await session.next() {
                    if case .acknowledged(let batch) = message { acknowledged.append(batch) }
                }
                return acknowledged
            }
            #expect(acknowledged == [0, 1])
            #expect(try await acme.metric("accord_changes_rejected_total", reason: "revoked-author") >= 1)
            #expect(try await acme.metric("accord_changes_rejected_total", reason: "delivered-by-non-party") >= 1)
            // An edit of acme's after the attack reaches globex; nothing the attacker sent does.
            _ = try await acme.admin().post("/v1/agreements/\(id)/notes", json: #"{"text":"acme's"}"#)
            try await eventually("globex has acme's note") {
                try await AdminAPI.decoder().decode(AgreementView.self, from: Data(globex.admin().get("/v1/agreements/\(id)").body)).notes.count == 1
            }
            for node in [acme, globex] {
                let shown = try await AdminAPI.decoder().decode(AgreementView.self, from: Data(node.admin().get("/v1/agreements/\(id)").body))
                #expect(shown.notes.map(\.text) == ["acme's"], "\(node.organisation) holds \(shown.notes.map(\.text))")
                let history = try await node.admin().get("/v1/agreements/\(id)/history").text
                #expect(!history.contains("globex/revoked"), "\(node.organisation)'s history names the revoked node")
            }
        }
    }

    /// The refused clients of docs/tls.md's table, each with the certificate (or the lack of one)
    /// that breaks one rule, and the reason acme must log and count.
    static func refusedClients(_ pki: HostilePKI) -> [(reason: String, arguments: [String])] {
        func node(_ name: String, rogue: Bool = false) -> [String] {
            ["-cert", pki.path(name, ".pem", rogue: rogue), "-key", pki.path(name, ".key", rogue: rogue)]
        }
        return [
            ("no-certificate", []),
            ("untrusted-issuer", node("acme-node1", rogue: true)),
            ("certificate-expired", node("acme-expired")),
            ("certificate-not-yet-valid", node("acme-future")),
            ("certificate-revoked", node("acme-revoked")),
            ("organisation-not-configured", node("acme-node1")),
            ("ca-certificate", node("acme-ca")),
            ("unsupported-key", node("acme-rsa")),
            ("tls-version", ["-tls1_2"] + node("initech-node1")),
        ]
    }

    @Test("every refused TLS peer is logged once with its rule and subject and counted under its own reason")
    func refusalReasons() async throws {
        try await AttackedNetwork.run { network in
            let acme = network.acme
            let refusedClients = Self.refusedClients(network.pki)
            for client in refusedClients {
                let tls = client.arguments.contains("-tls1_2") ? [] : ["-tls1_3"]
                _ = try await Subprocess.run("/usr/bin/openssl", [
                    "s_client", "-connect", "127.0.0.1:\(acme.port)", "-CAfile", network.pki.caPath,
                ] + tls + client.arguments)
            }
            // And one that does not speak TLS at all.
            let plain = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(acme.port).bigEndian)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(plain, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            _ = "GET / HTTP/1.1\r\nHost: acme\r\n\r\n".withCString { write(plain, $0, strlen($0)) }
            defer { close(plain) }
            for reason in refusedClients.map(\.reason) + ["not-tls"] {
                try await eventually("acme counts a refusal for \(reason)") {
                    try await acme.metric("accord_connections_refused_total", reason: reason) >= 1
                }
                let lines = acme.log.components(separatedBy: "\n").filter { $0.contains("peer connection refused") && $0.contains("reason=\(reason)") }
                #expect(lines.count == 1, "\(reason): \(lines)")
            }
            let log = acme.log
            #expect(log.contains("CN=expired") && log.contains("CN=future") && log.contains("CN=revoked"), "the subjects are logged")
            #expect(!log.contains("the connection ended before the session was established"), "no refusal goes without its reason")
        }
    }
}
