/// `GET /v1/status`: this node and every peer it is configured for or has met.
public struct NodeStatus: Codable, Sendable {
    public var organisation: String
    public var node: String
    public var version: String
    public var listen: String
    public var startedAt: String
    public var uptimeSeconds: Double
    public var agreements: Int
    public var changes: Int
    /// Changes kept aside until what they build on arrives or their stamp is no longer ahead.
    public var held: Int
    public var rejected: Int
    /// The certificate new sessions present.
    public var certificate: CertificateStatus?
    /// The revocation lists in force (`[tls] crl`), with the date each must be replaced by.
    public var revocationLists: [RevocationListStatus]?
    /// What an operator should act on: certificates and revocation lists that expire soon or
    /// have expired, peers whose certificate is revoked but that are still configured.
    public var warnings: [String]
    public var peers: [PeerStatus]
    /// Open commitments past their due date (`accordctl agreements due --overdue`).
    public var commitmentsOverdue: Int?
    /// Live agreements that expire within 30 days.
    public var agreementsExpiringSoon: Int?

    public init(
        organisation: String, node: String, version: String, listen: String, startedAt: String, uptimeSeconds: Double,
        agreements: Int, changes: Int, held: Int, rejected: Int, certificate: CertificateStatus?, warnings: [String], peers: [PeerStatus]
    ) {
        self.organisation = organisation
        self.node = node
        self.version = version
        self.listen = listen
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.agreements = agreements
        self.changes = changes
        self.held = held
        self.rejected = rejected
        self.certificate = certificate
        self.warnings = warnings
        self.peers = peers
    }
}

/// One peer node (or a configured peer organisation whose node has not been met yet).
public struct PeerStatus: Codable, Sendable {
    public var organisation: String
    /// `organisation/name`; nil until a session with the organisation's node has been established.
    public var node: String?
    /// The configured address this node dials; nil for a node that only ever dialled in.
    public var address: String?
    public var connected: Bool
    /// When the current session was established.
    public var connectedSince: String?
    /// `outbound` (this node dialled) or `inbound`.
    public var direction: String?
    /// The peer protocol version of the current session (docs/protocol.md): 1 with a node of a
    /// release before version 2, during a rolling upgrade.
    public var protocolVersion: Int?
    public var lastContact: String?
    public var lastReconcile: ReconcileSummary?
    /// Changes in this node's log that the peer has not acknowledged and is entitled to (exact).
    public var changesTheyLack: Int
    /// Agreements the last reconciliation round found different; what the peer still has to
    /// send is not known exactly until a round runs (`accordctl sync`).
    public var differencesAtLastReconcile: Int?
    public var changesSent: Int64
    public var changesReceived: Int64
    public var changesRejected: Int64
    public var lastRejection: RejectionSummary?
    public var batchesInFlight: Int
    public var pendingRepairs: Int
    /// The certificate of the node's current session, else the latest this node knows for it
    /// (with `revokedAt` when the consortium revoked it: such a node is not waited for).
    public var certificate: CertificateStatus?
    /// The last thing that went wrong with its connections, in either direction, and whose
    /// decision it was: why it is not connected.
    public var lastProblem: ConnectionProblemView?
    /// Whether `accordctl sync --wait` waits for this row: a connected node, or a node of a
    /// configured organisation none of whose nodes is connected. A node met once that is not
    /// connected while another node of its organisation is (say, a second node that dialled in
    /// once) is listed with its last contact but not waited for (docs/admin-api.md).
    public var awaited: Bool

    public init(
        organisation: String, node: String?, address: String?, connected: Bool, connectedSince: String?, direction: String?,
        lastContact: String?, lastReconcile: ReconcileSummary?, changesTheyLack: Int, differencesAtLastReconcile: Int?,
        changesSent: Int64, changesReceived: Int64, changesRejected: Int64, lastRejection: RejectionSummary?,
        batchesInFlight: Int, pendingRepairs: Int, certificate: CertificateStatus? = nil, awaited: Bool, protocolVersion: Int? = nil
    ) {
        self.organisation = organisation
        self.node = node
        self.address = address
        self.connected = connected
        self.connectedSince = connectedSince
        self.direction = direction
        self.protocolVersion = protocolVersion
        self.lastContact = lastContact
        self.lastReconcile = lastReconcile
        self.changesTheyLack = changesTheyLack
        self.differencesAtLastReconcile = differencesAtLastReconcile
        self.changesSent = changesSent
        self.changesReceived = changesReceived
        self.changesRejected = changesRejected
        self.lastRejection = lastRejection
        self.batchesInFlight = batchesInFlight
        self.pendingRepairs = pendingRepairs
        self.certificate = certificate
        self.awaited = awaited
    }
}

/// Why a connection with a peer did not become (or stopped being) a session.
public struct ConnectionProblemView: Codable, Sendable, Hashable {
    /// `outbound` (this node dialled) or `inbound`.
    public var direction: String
    /// `refused-here` (this node refused the peer), `refused-by-peer` (the peer refused this
    /// node) or `network` (not reached, or it stopped answering).
    public var origin: String
    /// The kebab-case reason, as `accord_connections_refused_total` labels it.
    public var reason: String
    public var message: String
    public var at: String

    public init(direction: String, origin: String, reason: String, message: String, at: String) {
        self.direction = direction
        self.origin = origin
        self.reason = reason
        self.message = message
        self.at = at
    }

    /// Whose decision it was, in words: "refused by this node", "refused by the peer", "not reached".
    public var whose: String {
        switch origin {
        case "refused-here": "refused by this node"
        case "refused-by-peer": "refused by the peer"
        default: "not reached"
        }
    }
}

public struct ReconcileSummary: Codable, Sendable, Hashable {
    public var completedAt: String
    public var differences: Int
    public var sentWhole: Int
    public var durationSeconds: Double
    /// Neither side found a difference.
    public var clean: Bool

    public init(completedAt: String, differences: Int, sentWhole: Int, durationSeconds: Double, clean: Bool) {
        self.completedAt = completedAt
        self.differences = differences
        self.sentWhole = sentWhole
        self.durationSeconds = durationSeconds
        self.clean = clean
    }
}

public struct RejectionSummary: Codable, Sendable, Hashable {
    public var code: String
    public var message: String
    public var at: String

    public init(code: String, message: String, at: String) {
        self.code = code
        self.message = message
        self.at = at
    }
}

/// `DELETE /v1/peers/ORG%2FNODE`: the node that was forgotten.
public struct ForgottenPeer: Codable, Sendable {
    public var node: String

    public init(node: String) { self.node = node }
}

/// `POST /v1/sync`: one reconciliation round with each connected peer (or those of `peer`).
public struct SyncRequest: Codable, Sendable {
    /// An organisation; nil for every connected peer.
    public var peer: String?
    /// How long to wait for the rounds (default 60, at most 3600): a peer whose round has not
    /// completed by then is answered with an error instead of being waited for.
    public var timeoutSeconds: Double?

    public init(peer: String?, timeoutSeconds: Double? = nil) {
        self.peer = peer
        self.timeoutSeconds = timeoutSeconds
    }
}

public struct SyncResponse: Codable, Sendable {
    public var rounds: [SyncRound]

    public init(rounds: [SyncRound]) { self.rounds = rounds }
}

public struct SyncRound: Codable, Sendable {
    public var node: String
    public var result: ReconcileSummary?
    public var error: String?

    public init(node: String, result: ReconcileSummary?, error: String?) {
        self.node = node
        self.result = result
        self.error = error
    }
}
