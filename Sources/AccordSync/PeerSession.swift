import AccordRefusals
public import AccordCrypto
public import AccordModel
import AccordStore
import AccordTLS
import Logging
import NIOCore

/// What every session of a node shares.
struct SyncServices: Sendable {
    let configuration: SyncConfiguration
    let store: NodeStore
    let directory: CertificateDirectory
    let verifier: ParallelVerifier
    let metrics: SyncMetrics
    let logger: Logger
    let refusals: RefusalLog
    /// Where a session that broke the protocol is struck, the moment it ends.
    let penalties: PenaltyBook
}

/// One established session with a peer node: reconciliation rounds, change batches in both
/// directions with acknowledgements, live push of the local log, keepalive.
///
/// It runs as a handful of child tasks sharing one `State` (`AwaitableState`): the receiver
/// (reads frames in order, screens change batches on every core; PeerSession+Receiving), the
/// applier (makes received batches durable, then acknowledges them), the sender (the only task
/// that sends changes, so certificates always precede the changes they sign; PeerSession+Sending),
/// the log watcher, keepalive and — on the dialing side — the round driver
/// (PeerSession+Reconciliation). Every queue between them is bounded; a task that would overfill
/// one waits, and a waiting receiver stops reading the socket, which is TCP backpressure on the
/// peer. The pure parts — `ReconciliationRound`, `DeliveryCursor`, `SendWindow`, `RepairQueue`,
/// `FramePacking` — hold the rules; this type holds the tasks and does the I/O, and its side
/// effects (metrics, logs, clock reads) happen outside the state's lock.
final class PeerSession: Sendable {
    let peer: EstablishedPeer
    let direction: SessionDirection
    /// The dialing side runs reconciliation rounds; the accepting side answers them.
    var initiatesRounds: Bool { direction == .outbound }
    let establishedAtMillis: UInt64

    let services: SyncServices
    let outbound: NIOAsyncChannelOutboundWriter<WireMessage>
    let logger: Logger
    let state: AwaitableState<State>
    let senderWakeup = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    let roundTrigger = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    let receivedBatches: AsyncHandoff<ReceivedBatch>
    /// Where the live stream of the log starts.
    let streamStart: Int64
    /// Closes the connection: pending writes fail, so no task of an ending session can stay
    /// blocked on a peer that stopped reading.
    private let closeConnection: @Sendable () -> Void

    struct ReceivedBatch: Sendable {
        let number: UInt32
        let changes: [ScreenedChange]
        /// The attributions of the batch's changes that their authors signed (checked).
        let attributions: [Attribution]
        /// The passkey signatures of the batch's approvals that hold (checked).
        let passkeySignatures: [PasskeySignature]
    }

    struct State: Sendable {
        var round: ReconciliationRound?
        var roundsCompleted = 0
        var lastRound: RoundResult?
        /// The current round's exchange of heads.
        var heads = HeadsExchange()
        var repairs = RepairQueue()
        var repairsInProgress = false
        var window: SendWindow
        var certificatesSent: Set<SHA256Digest> = []
        /// Attributions received for the next `changes` frame (version 3).
        var pendingAttributions: [[UInt8]] = []
        /// Passkey signatures received for the next `changes` frame (version 4).
        var pendingPasskeySignatures: [[UInt8]] = []
        var cursor: DeliveryCursor
        var lastHeard = ContinuousClock.now
        var sentSincePersistedProgress = 0

        var outboxIdle: Bool { repairs.isEmpty && !repairsInProgress && window.isEmpty }

        /// Completes the current round if it has drained, with the times read by the caller.
        /// Only a round in which neither side found a difference vouches for the cursor.
        mutating func completeRound(now: ContinuousClock.Instant, nowMillis: UInt64) -> RoundResult? {
            guard let round, let result = round.result(outboxIdle: outboxIdle, now: now, nowMillis: nowMillis) else { return nil }
            if result.isClean { cursor.roundWasClean(snapshot: round.snapshot.sequence) }
            self.round = nil
            lastRound = result
            roundsCompleted += 1
            return result
        }
    }

    init(
        peer: EstablishedPeer, direction: SessionDirection, services: SyncServices,
        outbound: NIOAsyncChannelOutboundWriter<WireMessage>, acknowledged: Int64, streamStart: Int64,
        closeConnection: @escaping @Sendable () -> Void
    ) {
        self.closeConnection = closeConnection
        self.peer = peer
        self.direction = direction
        self.services = services
        self.outbound = outbound
        self.establishedAtMillis = services.configuration.clock()
        var logger = services.logger
        logger[metadataKey: "peer"] = "\(peer.node)"
        logger[metadataKey: "direction"] = "\(direction.rawValue)"
        self.logger = logger
        self.state = AwaitableState(State(
            window: SendWindow(capacity: services.configuration.sendWindow),
            cursor: DeliveryCursor(acknowledged: acknowledged, streamStart: streamStart)
        ))
        self.receivedBatches = AsyncHandoff(capacity: services.configuration.receiveQueue)
        self.streamStart = streamStart
    }

    var organisation: OrganisationID { peer.node.organisation }
    var store: NodeStore { services.store }
    var configuration: SyncConfiguration { services.configuration }

    // MARK: - Running

    /// Runs the session until the peer closes it, it fails, or the task is cancelled.
    func run(inbound: NIOAsyncChannelInboundStream<WireMessage>) async throws {
        try await persistProgress()
        do {
            try await runTasks(inbound: inbound)
        } catch {
            // Struck before anything else is awaited: the offender's next connection, which may
            // come at once, must find it refused.
            let reason = SyncNode.sessionEndReason(error)
            if PeerPenalties.isMisbehaviour(reason) { services.penalties.strike(peer.node, reason: reason) }
            try? await persistProgress()
            throw error
        }
        try await persistProgress()
    }

    private func runTasks(inbound: NIOAsyncChannelInboundStream<WireMessage>) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.receive(inbound) }
            group.addTask { try await self.applyReceived() }
            group.addTask { try await self.sendChanges() }
            group.addTask { await self.watchLog() }
            group.addTask { try await self.keepAlive() }
            if initiatesRounds {
                group.addTask { try await self.driveRounds() }
                group.addTask { try await self.scheduleRounds() }
            }
            defer {
                shutdown()
                group.cancelAll()
                closeConnection()
            }
            try await group.next()
        }
    }

    /// Wakes every task that waits on this session so that it can end.
    private func shutdown() {
        state.close()
        receivedBatches.finish()
        senderWakeup.continuation.finish()
        roundTrigger.continuation.finish()
    }

    /// Changes the state; a round that this completes is recorded after the lock is released.
    @discardableResult
    func update<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        let (now, nowMillis) = (ContinuousClock.now, configuration.clock())
        let (result, completed) = try state.update { state in
            let result = try body(&state)
            return (result, state.completeRound(now: now, nowMillis: nowMillis))
        }
        if let completed { record(completed) }
        return result
    }

    private func record(_ round: RoundResult) {
        services.metrics.update { metrics in
            metrics.reconcileRounds += 1
            metrics.reconcileDifferences += round.differences
            metrics.reconcileSecondsTotal += round.duration / .seconds(1)
        }
        logger.debug(
            "reconciliation round complete",
            metadata: ["differences": "\(round.differences)", "whole": "\(round.sentWhole)", "duration": "\(round.duration)"]
        )
    }

    func send(_ message: WireMessage) async throws {
        count(message, sent: true)
        try await outbound.write(message)
    }

    /// Reconciliation traffic both ways and change frames sent are counted by their framed size
    /// (benchmarks, metrics).
    func count(_ message: WireMessage, sent: Bool) {
        switch message {
        case .reconcile, .heads:
            let bytes = FrameEncoder.frame(message).count
            services.metrics.update { metrics in
                metrics.reconcileMessages += 1
                metrics.reconcileBytes += bytes
                if case .heads = message { metrics.headsBytes += bytes }
            }
        case .changes(_, let encoded) where sent:
            services.metrics.update { $0.changeBytesSent += WireMessage.changesFrameBytes(encoded) }
        default:
            break
        }
    }

    /// Writes the cursor, the changes sent since the last call and the time of contact to the
    /// peer's state in one transaction, once per keepalive tick and when the session ends — not
    /// per batch: a cursor that lags only costs a few duplicates later.
    func persistProgress() async throws {
        let (cursor, sent) = state.update { state in
            defer { state.sentSincePersistedProgress = 0 }
            return (state.cursor.position, state.sentSincePersistedProgress)
        }
        var updates: [PeerUpdate] = [.acknowledged(upTo: cursor), .contact]
        if sent > 0 { updates.append(.sent(count: sent)) }
        try await store.updatePeer(peer.node, updates, nowMillis: configuration.clock())
    }

    /// When the peer last sent anything on this session.
    var lastHeard: ContinuousClock.Instant { state.read(\.lastHeard) }

    // MARK: - Keepalive

    func keepAlive() async throws {
        var nonce: UInt64 = 0
        while true {
            try await Task.sleep(for: configuration.keepaliveInterval)
            let silent = ContinuousClock.now - state.read(\.lastHeard)
            if silent > configuration.idleTimeout {
                throw SessionEnd.idle(silent)
            }
            nonce &+= 1
            try await send(.ping(nonce: nonce))
            try await persistProgress()
        }
    }

    // MARK: - Inspection

    /// Runs a round now (or asks the dialing side to) and returns its result.
    func synchronise() async throws -> RoundResult {
        // A round already under way may have compared the lists before this request: wait for
        // the one after it.
        let completed = state.read { $0.roundsCompleted + ($0.round == nil ? 0 : 1) }
        if initiatesRounds { roundTrigger.continuation.yield() } else { try await send(.reconcileRequest) }
        try await state.wait { $0.roundsCompleted > completed }
        return state.read { $0.lastRound! }
    }

    /// What this session knows, for status displays and metrics.
    var status: SessionStatus {
        state.read { state in
            SessionStatus(
                node: peer.node, certificate: peer.identity.certificate, direction: direction, version: peer.version,
                establishedAt: establishedAtMillis, lastRound: state.lastRound,
                acknowledgedThrough: state.cursor.position, batchesInFlight: state.window.count, pendingRepairs: state.repairs.count
            )
        }
    }
}

/// Which side dialed a session.
public enum SessionDirection: String, Sendable, Hashable {
    /// The peer dialed this node.
    case inbound
    /// This node dialed the peer.
    case outbound
}

/// A live session as `status` shows it.
public struct SessionStatus: Sendable, Hashable {
    public let node: NodeID
    /// The certificate the peer presented in this session's handshake.
    public let certificate: Certificate
    public let direction: SessionDirection
    /// The protocol version both sides speak in this session.
    public let version: UInt16
    public let establishedAt: UInt64
    public let lastRound: RoundResult?
    /// Every change of this node's log up to this sequence number is at the peer.
    public let acknowledgedThrough: Int64
    public let batchesInFlight: Int
    public let pendingRepairs: Int
}

/// Why a session ended without a protocol error.
enum SessionEnd: Error, CustomStringConvertible {
    case idle(Duration)
    case superseded

    var description: String {
        switch self {
        case .idle(let silence): "no frame from the peer for \(silence)"
        case .superseded: "a newer session with the same peer replaced this one"
        }
    }
}
