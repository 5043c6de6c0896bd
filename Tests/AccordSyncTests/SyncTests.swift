import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import Foundation
import Testing

/// Real nodes in this process: real SQLite files, real mutual TLS over 127.0.0.1.
@Suite("Peer sync between real nodes", .serialized)
struct SyncTests {
    static let pair: [Edit] = [
        .set(.title, .text("GPU cluster sharing")), .set(.category, .category(.technicalResources)),
        .addParty("acme"), .addParty("globex"),
    ]

    @Test("an acme–globex agreement converges on both, and initech holds no trace of it")
    func needToKnow() async throws {
        let ports = try freePorts(3)
        let acme = try ClusterNode("acme-node1", port: ports[0])
        let globex = try ClusterNode("globex-node1", port: ports[1])
        let initech = try ClusterNode("initech-node1", port: ports[2])
        // Every node lists the others (a node accepts connections only from organisations it
        // lists as peers); all three dial, so simultaneous dials are settled too.
        acme.peers = [globex.endpoint, initech.endpoint]
        globex.peers = [acme.endpoint, initech.endpoint]
        initech.peers = [acme.endpoint, globex.endpoint]
        for node in [acme, globex, initech] { try await node.start() }
        defer { Task { for node in [acme, globex, initech] { await node.stop(); node.remove() } } }

        let shared = try await initech.create([
            .set(.title, .text("Everyone")), .set(.category, .category(.fullSupport)),
            .addParty("acme"), .addParty("globex"), .addParty("initech"),
        ])
        let secret = try await acme.create(Self.pair)
        try await acme.edit(secret, [.set(.title, .text("Secret GPU deal"))])
        try await eventually("globex has acme's agreement") {
            let digest = try await globex.headsDigest(secret)
            let atAcme = try await acme.headsDigest(secret)
            return digest != nil && digest == atAcme
        }
        try await globex.edit(secret, [.note("globex agrees in principle")])
        try await eventually("acme has globex's edit") {
            let digest = try await globex.headsDigest(secret)
            return try await acme.headsDigest(secret) == digest
        }
        try await eventually("the three-party agreement reached everyone") {
            let atAcme = try await acme.headsDigest(shared)
            let atGlobex = try await globex.headsDigest(shared)
            return atAcme != nil && atGlobex != nil
        }
        try await initech.edit(shared, [.note("initech syncs with both")])
        try await eventually("initech's edit reached both") {
            let digest = try await initech.headsDigest(shared)
            let atAcme = try await acme.headsDigest(shared)
            let atGlobex = try await globex.headsDigest(shared)
            return atAcme == digest && atGlobex == digest
        }

        #expect(try await initech.store.agreement(secret) == nil)
        #expect(try await initech.store.agreements(today: CalendarDate(unixMillis: ClusterNode.clock())).map(\.id) == [shared])
        await initech.stop()
        let bytes = try initech.databaseBytes()
        #expect(!bytes.isEmpty)
        #expect(!bytes.contains(subsequence: secret.uuid.bytes), "initech's database holds the id of an agreement it is not party to")
        #expect(!bytes.contains(subsequence: Array("Secret GPU deal".utf8)))
        #expect(!bytes.contains(subsequence: Array("GPU cluster sharing".utf8)))
        #expect(bytes.contains(subsequence: shared.uuid.bytes), "the scan finds ids that are there")
        #expect(!initech.logs.text.contains(secret.description))
        #expect(!acme.logs.text.isEmpty)
    }
}

