import AccordCrypto
public import AccordModel
import AccordStore
import Logging
import NIOCore
import Synchronization

/// What every session of a node shares.
struct SyncServices: Sendable {
    let configuration: SyncConfiguration
    let store: NodeStore
    let directory: CertificateDirectory
    let verifier: ParallelVerifier
    let metrics: SyncMetrics
    let logger: Logger
    let refusals: RefusalLog
}

/// The outcome of one reconciliation round, as this side saw it.
public struct RoundResult: Sendable, Hashable {
    /// Agreements found different (0: the two nodes had the same history of every shared agreement).
    public let differences: Int
    /// Agreements sent whole because the peer had nothing of them.
    public let sentWhole: Int
    public let duration: Duration
    /// Unix milliseconds when the round completed.
    public let completedAt: UInt64

    public var isClean: Bool { differences == 0 }
}

/// One established session with a peer node: reconciliation rounds, change batches in both
/// directions with acknowledgements, live push of the local log, keepalive.
///
/// It runs as a handful of child tasks sharing one `State` under a mutex: the receiver (reads
/// frames in order, verifies change batches on every core), the applier (makes received batches
/// durable, then acknowledges them), the sender (the only task that sends changes, so certificates
/// always precede the changes they sign), the log watcher, keepalive and — on the dialing side —
/// the round driver. Every queue between them is bounded; a task that would overfill one waits,
/// and a waiting receiver stops reading the socket, which is TCP backpressure on the peer.
final class PeerSession: Sendable {
    let peer: EstablishedPeer
    let direction: SessionDirection
    /// The dialing side runs reconciliation rounds; the accepting side answers them.
    var initiatesRounds: Bool { direction == .outbound }
    let establishedAtMillis: UInt64

    private let services: SyncServices
    private let outbound: NIOAsyncChannelOutboundWriter<WireMessage>
    private let logger: Logger
    private let state: Mutex<State>
    private let senderWakeup = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let roundTrigger = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    private let receivedBatches: AsyncHandoff<ReceivedBatch>

    /// Agreements whose logs the sender reads at once.
    private static let repairReadSize = 256

    private struct ReceivedBatch: Sendable {
        let number: UInt32
        let changes: [ScreenedChange]
    }

    private enum BatchKind {
        /// Live push of the log through this sequence number.
        case stream(through: Int64)
        case repair
    }

    private struct Round {
        var reconciler: RangeReconciler
        let snapshot: SyncSnapshot
        let started: ContinuousClock.Instant
        var differencesKnown = false
        var peerHeadsFinal = false
        /// Agreements the peer sent heads of in this round: differences it found, perhaps
        /// without this side knowing (the comparison can be one-sided).
        var describedByPeer: Set<AgreementID> = []
    }

    private struct Waiter {
        let isSatisfied: @Sendable (State) -> Bool
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var closed = false
        var round: Round?
        var roundsCompleted = 0
        var lastRound: RoundResult?
        /// Agreements whose heads this side sent in the current round.
        var headsSent: Set<AgreementID> = []
        var repairs = RepairQueue()
        var repairsInProgress = false
        var inFlight: [UInt32: BatchKind] = [:]
        var nextBatch: UInt32 = 0
        var certificatesSent: Set<SHA256Digest> = []
        /// Everything of the log up to here is known to be at the peer (persisted as the peer's
        /// acknowledged sequence).
        var cursor: Int64
        /// The snapshot sequence of the latest round that found no difference.
        var cleanThrough: Int64?
        var streamAcknowledged: Int64
        var lastHeard = ContinuousClock.now
        var waiters: [Waiter] = []
        var sentSincePersistedProgress = 0

        var outboxIdle: Bool { repairs.isEmpty && !repairsInProgress && inFlight.isEmpty }
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
        self.state = Mutex(State(cursor: acknowledged, streamAcknowledged: streamStart))
        self.receivedBatches = AsyncHandoff(capacity: services.configuration.receiveQueue)
        self.streamStart = streamStart
    }

    private let streamStart: Int64
    /// Closes the connection: pending writes fail, so no task of an ending session can stay
    /// blocked on a peer that stopped reading.
    private let closeConnection: @Sendable () -> Void

    private var organisation: OrganisationID { peer.node.organisation }
    private var store: NodeStore { services.store }
    private var configuration: SyncConfiguration { services.configuration }

    // MARK: - Running

    /// Runs the session until the peer closes it, it fails, or the task is cancelled.
    func run(inbound: NIOAsyncChannelInboundStream<WireMessage>) async throws {
        try await persistProgress()
        do {
            try await runTasks(inbound: inbound)
        } catch {
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
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: CancellationError()) }
        receivedBatches.finish()
        senderWakeup.continuation.finish()
        roundTrigger.continuation.finish()
    }

    /// Changes `State` and resumes the waiters whose condition now holds.
    private func update<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        let (result, ready) = try state.withLock { state in
            let result = try body(&state)
            completeRoundIfDrained(&state)
            var ready: [CheckedContinuation<Void, any Error>] = []
            let waiters = state.waiters
            state.waiters = []
            for waiter in waiters {
                if waiter.isSatisfied(state) { ready.append(waiter.continuation) } else { state.waiters.append(waiter) }
            }
            return (result, ready)
        }
        for continuation in ready { continuation.resume() }
        return result
    }

    /// Suspends until `condition` holds; throws once the session ends.
    private func wait(until condition: @escaping @Sendable (State) -> Bool) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Bool? = state.withLock { state in
                if state.closed { return nil }
                if condition(state) { return true }
                state.waiters.append(Waiter(isSatisfied: condition, continuation: continuation))
                return false
            }
            switch outcome {
            case nil: continuation.resume(throwing: CancellationError())
            case true?: continuation.resume()
            case false?: break
            }
        }
    }

    private func send(_ message: WireMessage) async throws {
        countReconciliation(message)
        try await outbound.write(message)
    }

    /// Reconciliation traffic is counted by its framed size (benchmarks, metrics).
    private func countReconciliation(_ message: WireMessage) {
        switch message {
        case .reconcile, .heads:
            let bytes = FrameEncoder.frame(message).count
            services.metrics.update { metrics in
                metrics.reconcileMessages += 1
                metrics.reconcileBytes += bytes
            }
        case .changes(_, let encoded):
            let bytes = encoded.reduce(13) { $0 + 4 + $1.count }
            services.metrics.update { $0.changeBytesSent += bytes }
        default:
            break
        }
    }

    // MARK: - Receiving

    private func receive(_ inbound: NIOAsyncChannelInboundStream<WireMessage>) async throws {
        for try await message in inbound {
            update { $0.lastHeard = .now }
            if case .changes = message {} else { countReconciliation(message) }
            switch message {
            case .changes(let batch, let encoded):
                let screened = try await services.verifier.screen(encoded) { ids in Set(try await store.verdicts(of: ids).keys) }
                try await receivedBatches.send(ReceivedBatch(number: batch, changes: screened))
            case .acknowledged(let batch):
                try await acknowledge(batch)
            case .certificates(let certificates):
                await admit(certificates)
            case .reconcile(let message):
                try await reconcile(message)
            case .heads(let message):
                try await receiveHeads(message)
            case .reconcileRequest:
                if initiatesRounds { roundTrigger.continuation.yield() }
            case .ping, .pong, .hello, .helloAccepted, .error:
                break  // answered or enforced by PeerSessionHandler
            }
        }
    }

    /// Makes received batches durable in order, then acknowledges each: an acknowledgement is a
    /// promise that the batch survives a crash of this node.
    private func applyReceived() async throws {
        var badSignatures = 0
        while let batch = await receivedBatches.next() {
            var verified: [VerifiedChange] = []
            var rejections: [ChangeRejection] = []
            var known = 0
            for change in batch.changes {
                switch change {
                case .verified(let change): verified.append(change)
                case .refused(let rejection): rejections.append(rejection)
                case .known: known += 1
                }
            }
            let report = try await store.receive(
                verified, refused: rejections, known: known, from: peer.node, nowMillis: configuration.clock()
            )
            rejections += report.allRejections
            try await send(.acknowledged(batch: batch.number))
            services.metrics.update { metrics in
                metrics.changesReceived += batch.changes.count
                metrics.changesDuplicate += known
                for outcome in report.outcomes {
                    switch outcome {
                    case .accepted: metrics.changesAccepted += 1
                    case .duplicate: metrics.changesDuplicate += 1
                    case .held, .deferred: metrics.changesHeld += 1
                    case .rejected: break
                    }
                }
                for rejection in rejections { metrics.changesRejected[rejection.code.description, default: 0] += 1 }
            }
            if let last = rejections.last {
                services.refusals.refused(
                    "refused changes from peer", reason: last.code.description,
                    metadata: ["peer": "\(peer.node)", "count": "\(rejections.count)", "batch": "\(batch.number)", "detail": "\(last.message)"]
                )
            }
            badSignatures += rejections.count { $0.code == .badSignature }
            if badSignatures > configuration.maximumBadSignatures {
                throw SessionError(
                    .forgedChanges,
                    "the peer sent \(badSignatures) changes with bad signatures; an honest node never sends one"
                )
            }
        }
    }

    private func acknowledge(_ batch: UInt32) async throws {
        try update { state in
            guard let kind = state.inFlight.removeValue(forKey: batch) else {
                throw SessionError(.protocolViolation, "acknowledgement of batch \(batch), which is not in flight")
            }
            if case .stream(let through) = kind { state.streamAcknowledged = max(state.streamAcknowledged, through) }
            Self.advanceCursor(&state)
        }
        services.metrics.update { $0.batchesAcknowledged += 1 }
    }

    /// Moves the cursor once a clean round vouches for everything up to its snapshot; live push
    /// acknowledgements carry it on from there. `persistProgress` writes it to the store.
    private static func advanceCursor(_ state: inout State) {
        guard let clean = state.cleanThrough else { return }
        state.cursor = max(state.cursor, clean, state.streamAcknowledged)
    }

    /// Writes the cursor, the changes sent since the last call and the time of contact to the
    /// peer's state in one transaction, once per keepalive tick and when the session ends — not
    /// per batch: a cursor that lags only costs a few duplicates later.
    private func persistProgress() async throws {
        let (cursor, sent) = state.withLock { state in
            defer { state.sentSincePersistedProgress = 0 }
            return (state.cursor, state.sentSincePersistedProgress)
        }
        var updates: [PeerUpdate] = [.acknowledged(upTo: cursor), .contact]
        if sent > 0 { updates.append(.sent(count: sent)) }
        try await store.updatePeer(peer.node, updates, nowMillis: configuration.clock())
    }

    /// Admits relayed authors' certificates; one that does not chain to the consortium CA is
    /// dropped and logged (its changes will then be refused as by an unknown author).
    private func admit(_ certificates: [[UInt8]]) async {
        for der in certificates where !services.directory.isAdmitted(SHA256Digest(hashing: der)) {
            do {
                let certificate = try Certificate(derRepresentation: der)
                try services.directory.admit(certificate)
                try await store.rememberCertificate(certificate, nowMillis: configuration.clock())
            } catch {
                services.refusals.refused(
                    "refused a certificate from peer", reason: "certificate-refused", metadata: ["peer": "\(peer.node)", "detail": "\(error)"]
                )
            }
        }
    }

    // MARK: - Reconciliation

    private func scheduleRounds() async throws {
        roundTrigger.continuation.yield()
        while true {
            try await Task.sleep(for: configuration.reconcileInterval)
            roundTrigger.continuation.yield()
        }
    }

    /// Runs one round per trigger, each after the previous one completed.
    private func driveRounds() async throws {
        for await _ in roundTrigger.stream {
            let completed = state.withLock { $0.roundsCompleted }
            let round = try await startRound()
            try await send(.reconcile(round.reconciler.initiate()))
            try await wait { $0.roundsCompleted > completed }
        }
    }

    private func startRound() async throws -> Round {
        let snapshot = try await store.syncSnapshot(sharedWith: organisation)
        let round = Round(
            reconciler: RangeReconciler(items: snapshot.digests.map { ReconciliationItem(agreement: $0.agreement, headsDigest: $0.headsDigest) }),
            snapshot: snapshot, started: .now
        )
        update { state in
            state.round = round
            state.headsSent = []
        }
        return round
    }

    private func reconcile(_ message: RangeMessage) async throws {
        var round: Round
        if let current = state.withLock({ $0.round }), !current.differencesKnown {
            round = current
        } else if initiatesRounds {
            throw SessionError(.protocolViolation, "a reconcile message outside a round this node started")
        } else {
            round = try await startRound()
        }
        let reply = round.reconciler.respond(to: message)
        let finished = reply == nil || reply!.isFinal
        if finished { round.differencesKnown = true }
        update { $0.round = round }
        if let reply { try await send(.reconcile(reply)) }
        if finished { try await finishReconciliation(round) }
    }

    /// Both lists are compared: queue whole histories for what the peer lacks entirely, and tell
    /// it this side's heads of every other differing agreement.
    private func finishReconciliation(_ round: Round) async throws {
        let differences = round.reconciler.differences
        let whole = round.reconciler.missingAtPeer
        let exchange = differences.subtracting(whole).sorted()
        let shared = Set(round.snapshot.digests.map(\.agreement))
        let logs = try await store.logs(of: exchange.filter(shared.contains), sharedWith: organisation)
        let entries = exchange.map { agreement in
            HeadsMessage.Entry(agreement: agreement, heads: logs[agreement].map(RepairPlanner.heads(of:)) ?? [])
        }
        update { state in
            state.headsSent.formUnion(exchange)
            for agreement in whole.sorted() { state.repairs.request(agreement, peerHeads: []) }
        }
        senderWakeup.continuation.yield()
        try await sendHeads(entries, final: true)
    }

    /// A round is complete when both lists were compared, the peer's heads arrived and
    /// everything this side sent for the round is acknowledged. Checked after every change of
    /// state. Only a round in which neither side found a difference vouches for the cursor.
    private func completeRoundIfDrained(_ state: inout State) {
        guard let round = state.round, round.differencesKnown, round.peerHeadsFinal, state.outboxIdle else { return }
        let differences = round.reconciler.differences.union(round.describedByPeer)
        let result = RoundResult(
            differences: differences.count, sentWhole: round.reconciler.missingAtPeer.count,
            duration: ContinuousClock.now - round.started, completedAt: configuration.clock()
        )
        // A clean round vouches for what reconciliation compares; changes the stream still has
        // to deliver from before the log's end (owed to a former party) are vouched for by
        // their acknowledgement only.
        if result.isClean { state.cleanThrough = max(state.cleanThrough ?? 0, min(round.snapshot.sequence, streamStart)) }
        Self.advanceCursor(&state)
        state.round = nil
        state.lastRound = result
        state.roundsCompleted += 1
        services.metrics.update { metrics in
            metrics.reconcileRounds += 1
            metrics.reconcileDifferences += result.differences
            metrics.reconcileSecondsTotal += result.duration / .seconds(1)
        }
        logger.debug(
            "reconciliation round complete",
            metadata: ["differences": "\(result.differences)", "whole": "\(result.sentWhole)", "duration": "\(result.duration)"]
        )
    }

    /// Sends heads in frames of bounded size; the last is marked final when `final`.
    private func sendHeads(_ entries: [HeadsMessage.Entry], final: Bool) async throws {
        var chunk: [HeadsMessage.Entry] = []
        var bytes = 0
        for entry in entries {
            let size = 24 + 32 * entry.heads.count
            if !chunk.isEmpty, chunk.count == WireMessage.maximumHeadsEntries || bytes + size > configuration.batchBytes {
                try await send(.heads(HeadsMessage(entries: chunk, isFinal: false)))
                chunk = []
                bytes = 0
            }
            chunk.append(HeadsMessage.Entry(agreement: entry.agreement, heads: Array(entry.heads.prefix(WireMessage.maximumHeadsPerAgreement))))
            bytes += size
        }
        if !chunk.isEmpty || final { try await send(.heads(HeadsMessage(entries: chunk, isFinal: final))) }
    }

    /// The peer's heads: queue what it lacks, and answer with this side's heads of agreements it
    /// has not described yet this round (the peer may know differences this side does not).
    ///
    /// An agreement not shared with the peer is answered with empty heads (send me what you
    /// have), every time, exactly like one this node does not hold: nothing a non-party sees may
    /// depend on what this node holds (docs/security-model.md, "Need-to-know"). Nothing is
    /// remembered of it, so a flood of made-up ids costs no memory.
    private func receiveHeads(_ message: HeadsMessage) async throws {
        let logs = try await store.logs(of: message.entries.map(\.agreement), sharedWith: organisation)
        let answers = update { state -> [HeadsMessage.Entry] in
            var answers: [HeadsMessage.Entry] = []
            for entry in message.entries {
                guard let log = logs[entry.agreement] else {
                    answers.append(HeadsMessage.Entry(agreement: entry.agreement, heads: []))
                    continue
                }
                if state.headsSent.insert(entry.agreement).inserted {
                    answers.append(HeadsMessage.Entry(agreement: entry.agreement, heads: RepairPlanner.heads(of: log)))
                }
                state.repairs.request(entry.agreement, peerHeads: entry.heads)
                state.round?.describedByPeer.insert(entry.agreement)
            }
            if message.isFinal { state.round?.peerHeadsFinal = true }
            return answers
        }
        senderWakeup.continuation.yield()
        if !answers.isEmpty { try await sendHeads(answers, final: false) }
    }

    // MARK: - Sending

    /// Watches the log and wakes the sender for every commit.
    private func watchLog() async {
        for await _ in store.acceptedSequences() {
            senderWakeup.continuation.yield()
        }
    }

    /// The only task that sends changes: repairs first, then the live log from where the
    /// session started.
    private func sendChanges() async throws {
        var position = streamStart
        var wakeups = senderWakeup.stream.makeAsyncIterator()
        while true {
            try Task.checkCancellation()
            let repairs = update { state -> [RepairRequest] in
                let taken = state.repairs.take(Self.repairReadSize)
                if !taken.isEmpty { state.repairsInProgress = true }
                return taken
            }
            if !repairs.isEmpty {
                try await sendRepairs(repairs)
                update { $0.repairsInProgress = false }
                continue
            }
            let page = try await store.changePage(after: position, for: organisation, excluding: peer.node, limit: configuration.batchChanges)
            if !page.changes.isEmpty {
                try await sendHistoryForNewParty(page.changes)
                try await sendBatches(page.changes, kind: .stream(through: page.through))
            }
            position = page.through
            if page.changes.count < configuration.batchChanges {
                update { state in
                    state.streamAcknowledged = Self.streamIdle(state, through: page.through)
                    Self.advanceCursor(&state)
                }
                guard await wakeups.next() != nil else { return }
            }
        }
    }

    /// With nothing in flight, the live stream has delivered everything up to `through`.
    private static func streamIdle(_ state: State, through: Int64) -> Int64 {
        let streaming = state.inFlight.values.contains { if case .stream = $0 { true } else { false } }
        return streaming ? state.streamAcknowledged : max(state.streamAcknowledged, through)
    }

    private func sendRepairs(_ repairs: [RepairRequest]) async throws {
        let logs = try await store.logs(of: repairs.map(\.agreement), sharedWith: organisation)
        let cursor = state.withLock { $0.cursor }
        var changes: [StoredChange] = []
        for repair in repairs {
            guard let log = logs[repair.agreement] else { continue }
            changes += RepairPlanner.changesToSend(log: log, peerHeads: repair.peerHeads, acknowledgedThrough: cursor)
        }
        try await sendBatches(changes, kind: .repair)
    }

    /// A change that makes the peer's organisation a party opens the agreement's earlier history
    /// to it: send that history first, so the new party can apply the change at once.
    private func sendHistoryForNewParty(_ changes: [StoredChange]) async throws {
        let joined = changes.filter { stored in
            stored.change.change.edits.contains { if case .addParty(let party) = $0 { party == organisation } else { false } }
        }
        guard !joined.isEmpty else { return }
        let logs = try await store.logs(of: joined.map(\.change.change.agreement), sharedWith: organisation)
        var history: [StoredChange] = []
        for stored in joined {
            history += (logs[stored.change.change.agreement] ?? []).filter { $0.sequence < stored.sequence }
        }
        try await sendBatches(history, kind: .repair)
    }

    /// Sends changes in batches within the window, each preceded by the certificates of authors
    /// the peer has not been sent yet in this session.
    private func sendBatches(_ changes: [StoredChange], kind: BatchKind) async throws {
        var start = changes.startIndex
        while start < changes.endIndex {
            var end = start
            var bytes = 0
            while end < changes.endIndex, end - start < configuration.batchChanges {
                let size = changes[end].change.signed.encoded.count + 4
                if end > start, bytes + size > configuration.batchBytes { break }
                bytes += size
                end += 1
            }
            let batch = changes[start..<end]
            start = end
            try await sendCertificates(for: batch)
            var batchKind = kind
            if case .stream = kind, end < changes.endIndex { batchKind = .stream(through: batch.last!.sequence) }
            let number = try await reserveBatch(batchKind)
            try await send(.changes(batch: number, encoded: batch.map(\.change.signed.encoded)))
            services.metrics.update { $0.changesSent += batch.count }
            update { $0.sentSincePersistedProgress += batch.count }
        }
    }

    private func sendCertificates(for batch: ArraySlice<StoredChange>) async throws {
        let authors = Set(batch.map(\.change.change.author))
        let certificates = authors.flatMap { services.directory.certificates(of: $0) }
        let unsent = update { state in certificates.filter { state.certificatesSent.insert($0.fingerprint).inserted } }
        if !unsent.isEmpty { try await send(.certificates(unsent.map(\.derRepresentation))) }
    }

    /// A batch number once fewer than `sendWindow` batches are unacknowledged.
    private func reserveBatch(_ kind: BatchKind) async throws -> UInt32 {
        let window = configuration.sendWindow
        try await wait { $0.inFlight.count < window }
        return update { state in
            let number = state.nextBatch
            state.nextBatch &+= 1
            state.inFlight[number] = kind
            return number
        }
    }

    // MARK: - Keepalive

    private func keepAlive() async throws {
        var nonce: UInt64 = 0
        while true {
            try await Task.sleep(for: configuration.keepaliveInterval)
            let silent = ContinuousClock.now - state.withLock { $0.lastHeard }
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
        let completed = state.withLock { $0.roundsCompleted + ($0.round == nil ? 0 : 1) }
        if initiatesRounds { roundTrigger.continuation.yield() } else { try await send(.reconcileRequest) }
        try await wait { $0.roundsCompleted > completed }
        return state.withLock { $0.lastRound! }
    }

    /// What this session knows, for status displays and metrics.
    var status: SessionStatus {
        state.withLock { state in
            SessionStatus(
                node: peer.node, direction: direction, establishedAt: establishedAtMillis, lastRound: state.lastRound,
                acknowledgedThrough: state.cursor, batchesInFlight: state.inFlight.count, pendingRepairs: state.repairs.count
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
    public let direction: SessionDirection
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
