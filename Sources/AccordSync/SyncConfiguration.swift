public import AccordModel

/// A peer a node dials: where it listens and which organisation its certificate must name.
public struct PeerEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var organisation: OrganisationID
    public var host: String
    public var port: Int

    public init(organisation: OrganisationID, host: String, port: Int) {
        self.organisation = organisation
        self.host = host
        self.port = port
    }

    public var description: String { "\(organisation) at \(host):\(port)" }
}

/// How a node syncs with its peers. The defaults suit a WAN consortium; tests shorten the timers.
public struct SyncConfiguration: Sendable {
    /// This node, as its certificate names it.
    public var node: NodeID
    public var listenHost: String
    /// 0 picks a free port (tests).
    public var listenPort: Int
    /// The peers this node dials. Nodes of these organisations may also dial this node; no other
    /// organisation's node is accepted.
    public var peers: [PeerEndpoint]
    /// A ping is sent this long after the last one if the session is otherwise quiet.
    public var keepaliveInterval: Duration = .seconds(15)
    /// A session that has heard nothing for this long is closed (the peer or the path is dead).
    public var idleTimeout: Duration = .seconds(45)
    /// A reconciliation round runs this often on each session, besides on connect and on demand.
    public var reconcileInterval: Duration = .seconds(300)
    /// Reconnect delays grow from the lower bound to the upper one, with jitter.
    public var reconnectBackoff: ClosedRange<Duration> = .milliseconds(250) ... .seconds(30)
    /// A configured address whose node presents a revoked certificate is dialled again only this
    /// often: waiting does not un-revoke it (docs/operations.md, "Revoke a node").
    public var revokedPeerRedialInterval: Duration = .seconds(3600)
    /// Change batches sent and not yet acknowledged, per session.
    public var sendWindow = 4
    /// Changes per batch (a batch is one frame and one durable transaction at the receiver).
    public var batchChanges = 512
    /// Bytes of signed changes per batch (the frame limit is 1 MiB).
    public var batchBytes = 768 * 1024
    /// Verified batches waiting to be stored, per session: a slow disk stops the reading of
    /// further frames instead of growing memory.
    public var receiveQueue = 1
    /// Changes with a bad signature a session tolerates before it is closed. An honest node
    /// verifies every change before it stores or relays it, so it never sends one: a peer that
    /// does is broken or forging, and each costs a signature check and a durable write here.
    public var maximumBadSignatures = 64
    /// How long a node whose session was closed for bad signatures is refused after its TLS
    /// handshake (each session start costs this node a certificate check and durable writes).
    public var forgerQuarantine: Duration = .seconds(60)
    /// A connection that has not finished TLS and both hellos by then is closed. An honest node
    /// needs a few round trips; anything slower holds a slot strangers compete for.
    public var sessionStartTimeout: Duration = .seconds(5)
    /// Connections accepted but not yet established, in total and per source address; beyond
    /// either, an older one is evicted (`PendingConnectionTable`). This node's dials never count.
    public var pendingConnections = PendingConnectionLimits(total: 128, perSource: 32)
    /// Established sessions (inbound and outbound together) beyond which a new one is refused.
    public var maximumSessions = 256
    /// The protocol versions this node offers and accepts (`PeerSessionHandler.supportedVersions`;
    /// tests narrow it to play a node of an older release).
    public var protocolVersions = PeerSessionHandler.supportedVersions
    /// A connection whose peer reads nothing of what this node writes for this long is closed
    /// (`OutboundFlowControl`); meanwhile nothing more is read from it.
    public var writeStallTimeout: Duration = .seconds(45)
    /// The control work (`FrameBudget.cost`) a session's peer may ask for per second; beyond it
    /// the session stops reading until the budget refills (`InboundFrameBudget`).
    public var frameBudget = FrameBudget(rate: 10_000, burst: 10_000)
    /// Refusals of one reason beyond the first are summarised in one log line per interval.
    public var refusalSummaryInterval: Duration = .seconds(10)
    /// How long a node whose session ended because it broke the protocol is refused after its
    /// handshake: the first penalty, doubling with each strike up to the second (`PeerPenalties`).
    public var misbehaviourPenalties: ClosedRange<Duration> = .seconds(1) ... .seconds(60)
    /// Held changes (clock skew) are re-judged this often.
    public var releaseHeldInterval: Duration = .seconds(5)
    /// Unix milliseconds; the node's clock for stamps and skew checks.
    public var clock: @Sendable () -> UInt64

    public init(
        node: NodeID, listenHost: String = "127.0.0.1", listenPort: Int, peers: [PeerEndpoint],
        clock: @escaping @Sendable () -> UInt64
    ) {
        self.node = node
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.peers = peers
        self.clock = clock
    }
}
