import AccordCrypto
public import AccordModel
import AccordStore
import AccordTLS
import Logging
import NIOConcurrencyHelpers

/// A running node takes new credentials and peers without a restart (`accordctl reload`).
extension SyncNode {
    /// What a reconfiguration changed: for the log and for the operator who asked.
    public struct Reconfiguration: Sendable, Equatable {
        public var peersAdded: [PeerEndpoint] = []
        public var peersRemoved: [PeerEndpoint] = []
        /// The node's certificate changed: new sessions present the new one.
        public var certificateRenewed = false
        /// Nodes with a certificate the new revocation list revokes that the old one did not.
        public var newlyRevoked: [NodeID] = []
        /// Sessions closed, with the reason: `certificate-revoked` or `peer-removed`.
        public var sessionsClosed: [NodeID: String] = [:]
    }

    /// Applies `credentials` and `peers` to the running node. Live sessions that neither change
    /// affects keep running; new connections use the new TLS context; the sessions of nodes whose
    /// certificate is now revoked and of organisations no longer configured are closed (and
    /// refused from now on: by the handshake for a revoked certificate, by the peer policy for an
    /// organisation). Every certificate this node ever presented stays in its store and its
    /// directory, so the changes it signed with an earlier key still verify.
    ///
    /// `credentials` are checked as a whole when they are made (key, certificate, CA, revocation
    /// list): by then nothing here can fail but the store's remembering the new certificate,
    /// which happens first, so a failed reconfiguration changes nothing.
    ///
    /// - Throws: `StoreError`.
    public func reconfigure(credentials: NodeCredentials, peers: [PeerEndpoint]) async throws -> Reconfiguration {
        precondition(credentials.node == configuration.node, "the credentials are for \(credentials.node), this node is \(configuration.node)")
        let certificate = credentials.tls.certificate
        try await store.rememberCertificate(certificate, nowMillis: configuration.clock())

        var outcome = Reconfiguration()
        outcome.newlyRevoked = directory.replaceTrust(authority: credentials.authority, revocations: credentials.revocations).sorted()
        try directory.admit(certificate)
        outcome.certificateRenewed = currentTLS.withLockedValue { current in
            defer { current = credentials.tls }
            return current.certificate != certificate
        }
        // The sessions of removed partners as they are now: stopping a removed partner's dialler
        // (below) ends a session it dialled on its own, maybe before `registry.close` gets to it,
        // and the operator is told of every session the reload ends either way.
        let organisations = Set(peers.map(\.organisation))
        var reasons: [NodeID: String] = [:]
        for session in registry.sessions where !organisations.contains(session.peer.node.organisation) {
            reasons[session.peer.node] = "peer-removed"
        }
        let previous = configuredPeers.update { configured in
            defer { configured = peers }
            return configured
        }
        outcome.peersAdded = peers.filter { !previous.contains($0) }
        outcome.peersRemoved = previous.filter { !peers.contains($0) }
        dialled.update { $0 = $0.filter { peers.contains($0.key) } }

        for node in registry.close(where: { directory.isRevoked($0.peer.identity.certificate) }) {
            reasons[node] = "certificate-revoked"
        }
        for node in registry.close(where: { !organisations.contains($0.peer.node.organisation) }) {
            reasons[node] = reasons[node] ?? "peer-removed"
        }
        outcome.sessionsClosed = reasons
        for (node, reason) in reasons.sorted(by: { $0.key < $1.key }) {
            metrics.update { $0.sessionsEnded[reason, default: 0] += 1 }
            logger.notice("session closed by a reload", metadata: ["peer": "\(node)", "reason": "\(reason)"])
        }
        return outcome
    }

    /// Keeps one dialler per configured peer, starting and stopping them as reloads change the
    /// list. Only this task decides which diallers run, so a peer removed and added back before it
    /// looks keeps its dialler (and its session).
    func dialConfiguredPeers() async {
        await withDiscardingTaskGroup { group in
            var stops: [PeerEndpoint: AwaitableState<Bool>] = [:]
            defer { for stop in stops.values { stop.update { $0 = true } } }
            while !Task.isCancelled {
                let configured = Set(configuredPeers.read { $0 })
                for (endpoint, stop) in stops where !configured.contains(endpoint) {
                    stop.update { $0 = true }
                    stops[endpoint] = nil
                }
                for endpoint in configured where stops[endpoint] == nil {
                    let stop = AwaitableState(false)
                    stops[endpoint] = stop
                    group.addTask { await self.dial(endpoint, until: stop) }
                }
                do {
                    try await configuredPeers.wait { Set($0) != configured }
                } catch {
                    return
                }
            }
        }
    }

    /// Runs `dial(endpoint)` until `stop` turns true (the peer left the configuration): then the
    /// dialler and the session it serves end.
    private func dial(_ endpoint: PeerEndpoint, until stop: AwaitableState<Bool>) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.dial(endpoint) }
            group.addTask { try? await stop.wait { $0 } }
            await group.next()
            group.cancelAll()
        }
    }
}
