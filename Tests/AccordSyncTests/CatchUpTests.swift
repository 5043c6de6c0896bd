import AccordModel
import AccordStore
import AccordSync
import AccordTestSupport
import Testing

/// A fresh node catching up receives every change once: never twice because of how either side
/// worded its side of the reconciliation (docs/protocol.md, "A session's work").
@Suite("Catch-up, exactly once", .serialized)
struct CatchUpTests {
    enum Dialler: String, CaseIterable, Sendable { case freshNode, fullNode }

    @Test("a fresh node receives each of 400 changes exactly once, whichever side dials", arguments: Dialler.allCases)
    func exactlyOnce(_ dialler: Dialler) async throws {
        let ports = try freePorts(3)
        let full = try ClusterNode("acme-node1", port: ports[0])
        let fresh = try ClusterNode("globex-node1", port: ports[1])
        // The side that does not dial accepts the other's organisation but dials a port nothing
        // listens on: one session, started by the dialler.
        switch dialler {
        case .freshNode:
            full.peers = [ClusterNode.placeholder(for: "globex", port: ports[2])]
            fresh.peers = [full.endpoint]
        case .fullNode:
            full.peers = [fresh.endpoint]
            fresh.peers = [ClusterNode.placeholder(for: "acme", port: ports[2])]
        }
        try await full.startStoreOnly()
        var agreements: [AgreementID] = []
        for index in 0..<100 {
            let agreement = try await full.create(SyncTests.pair)
            agreements.append(agreement)
            for note in 0..<3 { try await full.edit(agreement, [.note("\(index).\(note)")]) }
        }
        let total = try await full.store.counts().changes
        await full.stop()
        #expect(total == 400)
        try await full.start()
        try await fresh.start()
        try await SyncTests.cleaningUp([full, fresh]) {
            try await eventually("the fresh node caught up") { try await fresh.store.counts().changes == total }
            for agreement in agreements.prefix(5) { _ = try await SyncTests.converged([full, fresh], agreement) }
            _ = await fresh.sync.synchronise()
            let received = fresh.sync.metrics.snapshot
            print("catch-up, \(dialler.rawValue) dials: \(received.changesReceived) changes received for \(total), \(received.changesDuplicate) duplicates")
            #expect(received.changesReceived == total, "every change arrived once")
            #expect(received.changesDuplicate == 0)
            #expect(full.sync.metrics.snapshot.changesSent == total)
        }
    }

    @Test("a node whose peer dialled it first does not replace that session by its own redial: the catch-up is not started again")
    func ownRedialKeepsTheSession() async throws {
        let ports = try freePorts(2)
        let full = try ClusterNode("acme-node1", port: ports[0])
        let fresh = try ClusterNode("globex-node1", port: ports[1])
        // Both dial the other; acme's connection is the one the dialling rule prefers (acme sorts
        // first), so its redial is the one that would replace the session.
        (full.peers, fresh.peers) = ([fresh.endpoint], [full.endpoint])
        try await full.startStoreOnly()
        for index in 0..<100 {
            let agreement = try await full.create(SyncTests.pair)
            for note in 0..<3 { try await full.edit(agreement, [.note("\(index).\(note)")]) }
        }
        let total = try await full.store.counts().changes
        await full.stop()
        // acme dials now (nothing listens yet), then every 1.5 s: long enough for globex to start,
        // dial acme and have its session established before acme redials.
        try await full.start { $0.reconnectBackoff = .milliseconds(1500) ... .milliseconds(1500) }
        try await SyncTests.cleaningUp([full, fresh]) {
            try await eventually("acme's first dial failed") { full.sync.metrics.snapshot.dialFailures >= 1 }
            try await fresh.start()
            try await eventually("acme redialled and found the session globex dialled", timeout: .seconds(10)) {
                full.sync.metrics.snapshot.connectionsRefused["already-in-session"] == 1
            }
            try await eventually("globex caught up") { try await fresh.store.counts().changes == total }
            try await eventually("globex counted the redial it was refused") {
                fresh.sync.metrics.snapshot.connectionsRefused["already-in-session"] == 1
            }
            // Another backoff and more: acme waits for the session to end instead of dialling.
            try await Task.sleep(for: .seconds(2))
            let (acme, globex) = (full.sync.metrics.snapshot, fresh.sync.metrics.snapshot)
            #expect(acme.sessionsEstablished == 1, "acme's own redial did not replace the session")
            #expect(globex.sessionsEstablished == 1)
            #expect(acme.connectionsRefused["already-in-session"] == 1, "acme did not dial again while the session lasts")
            #expect(globex.changesReceived == total, "every change arrived once, in the one session")
            #expect(globex.changesDuplicate == 0)
            #expect(!fresh.logs.text.contains("session ended"))
        }
    }
}
