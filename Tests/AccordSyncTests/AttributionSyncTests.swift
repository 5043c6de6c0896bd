import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import AccordTestSupport
import Foundation
import Testing

/// Who made a change (`Attribution`, protocol version 3) between real nodes: it travels beside
/// its change to nodes of version 3; a node of version 2 receives and relays the change alone
/// and shows its node as the author; an attribution its change's author did not sign is dropped,
/// and the change kept.
@Suite("Attributions between real nodes", .serialized)
struct AttributionSyncTests {
    static let alice = try! ActingPerson(kind: .person, id: "alice", name: "Alice Chen")

    /// The attribution `node` holds for the last change of `agreement`.
    static func lastAttribution(_ node: ClusterNode, _ agreement: AgreementID) async throws -> (HistoryEntry, Attribution?) {
        let last = try #require(try await node.store.history(of: agreement).last)
        return (last, last.attribution)
    }

    @Test("a note Alice made at acme reaches globex with her name, signed by acme's node; a relay of version 2 passes the change on without it")
    func travelsAndDegrades() async throws {
        let nodes = try SyncTests.mesh(["acme-node1", "globex-node1", "initech-node1"])
        let (acme, globex, initech) = (nodes[0], nodes[1], nodes[2])
        try await acme.start()
        try await globex.start()
        try await initech.start()
        try await SyncTests.cleaningUp(nodes) {
            let agreement = try await acme.create(SyncTests.three)
            try await acme.edit(agreement, [.note("clause 3 is fine")], actor: Self.alice)
            try await SyncTests.converged(nodes, agreement)
            for node in [acme, globex, initech] {
                let (entry, attribution) = try await Self.lastAttribution(node, agreement)
                #expect(attribution?.actor == Self.alice, "\(node.name)")
                #expect(attribution?.change == entry.change.id)
            }
            #expect(acme.sync.sessions.allSatisfy { $0.version >= 3 })
        }

        // initech reaches acme only through globex, which speaks version 2.
        let relayed = try SyncTests.mesh(["acme-node1", "globex-node1", "initech-node1"])
        let (acme2, globex2, initech2) = (relayed[0], relayed[1], relayed[2])
        acme2.peers = [globex2.endpoint]
        initech2.peers = [globex2.endpoint]
        globex2.peers = [acme2.endpoint, initech2.endpoint]
        try await acme2.start()
        try await globex2.start { $0.protocolVersions = 1...2 }
        try await initech2.start()
        try await SyncTests.cleaningUp(relayed) {
            let agreement = try await acme2.create(SyncTests.three)
            try await acme2.edit(agreement, [.note("clause 3 is fine")], actor: Self.alice)
            try await SyncTests.converged(relayed, agreement)
            #expect(acme2.sync.sessions.map(\.version) == [2], "the older node's version")
            #expect(try await Self.lastAttribution(acme2, agreement).1?.actor == Self.alice)
            // The older node has the change, signed by acme's node, and no person; so has the node it relayed to.
            #expect(try await Self.lastAttribution(globex2, agreement).1 == nil)
            #expect(try await Self.lastAttribution(initech2, agreement).1 == nil)
            #expect(try await Self.lastAttribution(initech2, agreement).0.change.edits == [.note("clause 3 is fine")])
        }
    }

    @Test("an attribution not signed by its change's author is dropped and logged; the change is kept; attributions in a version-2 session end it")
    func forgedAttribution() async throws {
        let nodes = try SyncTests.mesh(["acme-node1"])
        let acme = nodes[0]
        acme.peers = [ClusterNode.placeholder(for: "initech", port: try freePorts(1)[0])]
        try await acme.start()
        try await SyncTests.cleaningUp(nodes) {
            let initech = try HostileClient(certificate: "initech-node1")
            var clock = HybridLogicalClock(node: initech.node)
            let change = try Change.genesis(
                stamp: clock.stamp(physicalMillis: ClusterNode.clock()),
                edits: [.set(.title, .text("Shared lab")), .set(.category, .category(.technicalResources)), .addParty("initech"), .addParty("acme")]
            )
            let signed = try initech.forge(change)
            // Signed by a key that is not initech's: anyone could claim that anyone made it.
            let impostor = ChangeSigner(node: initech.node, key: try P256PrivateKey.generate())
            let forged = try impostor.attribution(of: VerifiedChange(fromTrustedLog: signed), to: Self.alice)
            let answer = try await initech.session(port: acme.port) { session in
                try await session.send(.attributions([forged.encoded]))
                try await session.send(.changes(batch: 0, encoded: [signed.encoded]))
                return try await session.next()
            }
            #expect(answer == .acknowledged(batch: 0))
            let (entry, attribution) = try await Self.lastAttribution(acme, change.agreement)
            #expect(entry.change.id == change.id, "the change is kept")
            #expect(attribution == nil, "its forged attribution is not")
            #expect(acme.logs.text.contains("bad-attribution"))

            // In a session of version 2, an attributions frame is out of protocol.
            try await SyncTests.expectProtocolViolation(.attributions([forged.encoded]), from: initech, speaking: 1...2, to: acme)
        }
    }
}

extension SyncTests {
    /// Sends `message` in a session of `versions` and expects the node to end it as a protocol
    /// violation: a frame of a later version is refused in an older session.
    static func expectProtocolViolation(
        _ message: WireMessage, from client: HostileClient, speaking versions: ClosedRange<UInt16>, to node: ClusterNode
    ) async throws {
        var older = client
        older.versions = versions
        let refusal = try await older.session(port: node.port) { session in
            try await session.send(message)
            return try await session.next()
        }
        guard case .error(SessionError.Code.protocolViolation.rawValue, _) = refusal else {
            Issue.record("expected a protocol violation, got \(refusal)")
            return
        }
    }
}
