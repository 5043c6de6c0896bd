import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import Foundation
import HTTPTypes

/// `GET /v1/status`, `GET /v1/peers` and `DELETE /v1/peers/…`: the node, its certificates and
/// revocation lists, and every peer node with why it is or is not connected.
extension NodeAdministration {
    func status() async throws -> NodeStatus {
        let counts = try await store.counts()
        let now = clock()
        let peers = try await peerStatuses()
        let lifetimes = certificateLifetimes(peers: peers)
        let deadlines = try await deadlineCounts()
        var status = NodeStatus(
            organisation: configuration.node.organisation.rawValue, node: configuration.node.description, version: Self.version,
            listen: "\(configuration.listenHost):\(sync.listeningPort ?? configuration.listenPort)", startedAt: Views.time(startedAt),
            uptimeSeconds: Double(now - min(now, startedAt)) / 1000, agreements: counts.agreements, changes: counts.changes,
            held: counts.held, rejected: counts.rejected, certificate: lifetimes.status(of: configuration.node),
            warnings: lifetimes.warnings + peerWarnings(peers), peers: peers
        )
        status.revocationLists = lifetimes.revocationListStatuses
        (status.commitmentsOverdue, status.agreementsExpiringSoon) = (deadlines.overdue, deadlines.expiringSoon)
        return status
    }

    /// What the peer rows say an operator should act on: a configured partner address whose
    /// node's certificate is revoked, a certificate that seems to run in two processes.
    private func peerWarnings(_ peers: [PeerStatus]) -> [String] {
        var warnings: [String] = []
        for peer in peers {
            guard let revokedAt = peer.certificate?.revokedAt, let node = peer.node, let address = peer.address else { continue }
            warnings.append(
                "the certificate of peer \(node) was revoked at \(revokedAt); [[peers]] still lists \(peer.organisation) at \(address): "
                    + "it is dialled only hourly and not waited for; remove the entry if the node is retired (docs/operations.md, \"Revoke a node\")"
            )
        }
        for node in sync.suspectedDuplicateIdentities {
            warnings.append(
                "two processes appear to run with the certificate of \(node): each keeps opening sessions with this node while the other's runs; "
                    + "every node needs a certificate of its own"
            )
        }
        return warnings
    }

    /// This node's certificate, those of the peer nodes in `peers`, and the revocation lists.
    func certificateLifetimes(peers: [PeerStatus]) -> CertificateLifetimes {
        let current = live.current
        return CertificateLifetimes(
            own: configuration.node, sync: sync, credentials: current.credentials, revocationListFile: current.configuration.revocationList,
            peers: peers.compactMap { $0.node.flatMap(NodeID.init) }
        )
    }

    /// One row per peer node met (stored or in session), plus configured organisations whose node
    /// has not been met yet.
    func peerStatuses() async throws -> [PeerStatus] {
        let stored = Dictionary(try await store.peers().map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
        let sessions = Dictionary(sync.sessions.map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
        // The configured address belongs to the node met there, not to every node of its organisation.
        let dialled = sync.dialledNodes
        let addresses = Dictionary(dialled.map { ($0.value, "\($0.key.host):\($0.key.port)") }, uniquingKeysWith: { first, _ in first })
        let endpoints = Dictionary(dialled.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
        let problems = sync.connectionProblems
        let revocations = live.current.credentials.revocations
        let now = Date()
        var rows: [PeerStatus] = []
        for node in Set(stored.keys).union(sessions.keys).sorted() {
            let state = stored[node]
            let session = sessions[node]
            let acknowledged = max(session?.acknowledgedThrough ?? 0, state?.acknowledgedSequence ?? 0)
            let certificate = sync.certificate(of: node)
            var row = PeerStatus(
                organisation: node.organisation.rawValue, node: node.description, address: addresses[node],
                connected: session != nil, connectedSince: session.map { Views.time($0.establishedAt) },
                direction: session.map { $0.direction == .outbound ? "outbound" : "inbound" },
                lastContact: state?.lastContact.map(Views.time), lastReconcile: session?.lastRound.map(Views.reconcile),
                changesTheyLack: try await store.owedChangeCount(after: acknowledged, for: node.organisation, excluding: node),
                differencesAtLastReconcile: session?.lastRound?.differences,
                changesSent: state?.changesSent ?? 0, changesReceived: state?.changesReceived ?? 0,
                changesRejected: state?.changesRejected ?? 0,
                lastRejection: state?.lastRejection.map { RejectionSummary(code: $0.code, message: $0.message, at: Views.time($0.at)) },
                batchesInFlight: session?.batchesInFlight ?? 0, pendingRepairs: session?.pendingRepairs ?? 0,
                certificate: certificate.map {
                    CertificateLifetimes.status(of: $0, node: node, revokedAt: revocations.revocationDate(of: $0), now: now)
                },
                awaited: false, protocolVersion: session.map { Int($0.version) }
            )
            row.lastProblem = Self.latest([problems[.node(node)], endpoints[node].flatMap { problems[.endpoint($0)] }])
            rows.append(row)
        }
        let met = Set(rows.map(\.organisation))
        for peer in configuration.peers where !met.contains(peer.organisation.rawValue) {
            var row = PeerStatus(
                organisation: peer.organisation.rawValue, node: nil, address: "\(peer.host):\(peer.port)", connected: false,
                connectedSince: nil, direction: nil, lastContact: nil, lastReconcile: nil,
                changesTheyLack: try await store.owedChangeCount(after: 0, for: peer.organisation),
                differencesAtLastReconcile: nil, changesSent: 0, changesReceived: 0, changesRejected: 0, lastRejection: nil,
                batchesInFlight: 0, pendingRepairs: 0, awaited: false
            )
            row.lastProblem = Self.latest([problems[.endpoint(peer)]])
            rows.append(row)
        }
        // Which rows `sync --wait` waits for: nodes that can answer now, and every configured
        // organisation that has no node to answer (so an unreachable partner is not missed);
        // never a node whose certificate is revoked (it cannot answer again).
        let configured = Set(configuration.peers.map(\.organisation.rawValue))
        let reachable = Set(rows.filter(\.connected).map(\.organisation))
        let usable = Set(rows.filter { $0.certificate?.revokedAt == nil && $0.node != nil }.map(\.organisation))
        for index in rows.indices {
            let row = rows[index]
            if row.certificate?.revokedAt != nil { continue }
            rows[index].awaited =
                row.connected
                || (configured.contains(row.organisation) && !reachable.contains(row.organisation)
                    && (row.node != nil || !usable.contains(row.organisation)))
        }
        return rows
    }

    /// The most recent of `problems`, as the API shows it.
    private static func latest(_ problems: [ConnectionProblem?]) -> ConnectionProblemView? {
        problems.compactMap { $0 }.max { $0.atMillis < $1.atMillis }.map {
            ConnectionProblemView(
                direction: $0.direction.rawValue, origin: $0.origin.rawValue, reason: $0.reason, message: $0.message, at: Views.time($0.atMillis)
            )
        }
    }

    /// Forgets a peer node that is not connected (`DELETE /v1/peers/ORG%2FNODE`).
    func forget(_ text: String) async throws -> ForgottenPeer {
        guard let node = NodeID(text) else {
            throw AdminFailure.badRequest("\"\(text)\" is not a node (ORGANISATION/NAME)")
        }
        if sync.sessions.contains(where: { $0.node == node }) {
            throw AdminFailure(.conflict, "peer-connected", "\(node) is connected; it can be forgotten once its session has ended")
        }
        guard try await store.forgetPeer(node) else { throw AdminFailure.notFound("this node has never met \(node)") }
        return ForgottenPeer(node: node.description)
    }
}
