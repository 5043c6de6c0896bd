import AccordModel
import AccordStore

/// Reconciliation rounds (docs/protocol.md, "A session's work"): the dialing side starts them,
/// both sides compare item lists, exchange the heads of what differs and queue the repairs.
extension PeerSession {
    func scheduleRounds() async throws {
        roundTrigger.continuation.yield()
        while true {
            try await Task.sleep(for: configuration.reconcileInterval)
            roundTrigger.continuation.yield()
        }
    }

    /// Runs one round per trigger, each after the previous one completed.
    func driveRounds() async throws {
        for await _ in roundTrigger.stream {
            let completed = state.read(\.roundsCompleted)
            let round = try await startRound()
            try await send(.reconcile(round.reconciler.initiate()))
            try await state.wait { $0.roundsCompleted > completed }
        }
    }

    private func startRound() async throws -> ReconciliationRound {
        let round = ReconciliationRound(
            snapshot: try await store.syncSnapshot(sharedWith: organisation, readableBy: peer.version), codedSymbols: peer.version >= 2, started: .now
        )
        update { state in
            state.round = round
            state.heads = HeadsExchange()
        }
        return round
    }

    func reconcile(_ message: RangeMessage) async throws {
        var round: ReconciliationRound
        if let current = state.read(\.round), !current.differencesKnown {
            round = current
        } else if initiatesRounds {
            throw SessionError(.protocolViolation, "a reconcile message outside a round this node started")
        } else {
            round = try await startRound()
        }
        let reply = round.reconciler.respond(to: message)
        let finished = reply?.isFinal ?? true
        if finished { round.differencesKnown = true }
        update { [round] in $0.round = round }
        if let reply { try await send(.reconcile(reply)) }
        if finished { try await finishReconciliation(round) }
    }

    /// At most this many agreements the peer lacks entirely are also described by their heads.
    static let describedWholeLimit = 64

    /// Both lists are compared: queue whole histories for what the peer lacks entirely, and tell
    /// it this side's heads of every other differing agreement — and of the ones it lacks
    /// entirely when they are few. A peer lacks an agreement "entirely" also when it does not list
    /// it because this node's organisation withdrew and this node missed it (restored from an
    /// older backup, say): told the heads, the peer repairs this node up to the withdrawal (it
    /// would otherwise never learn the id, which reconciliation need not put on the wire). When
    /// there are many, as for a fresh node, they are not described: that peer lacks them indeed.
    private func finishReconciliation(_ round: ReconciliationRound) async throws {
        let whole = round.reconciler.missingAtPeer
        let described = whole.count <= Self.describedWholeLimit ? round.reconciler.differences : round.reconciler.differences.subtracting(whole)
        let exchange = described.sorted()
        // What the peer's organisation is owed, including what it is owed as a former party of an
        // agreement it still lists (a node of it missed the withdrawal): those heads let it ask.
        let logs = try await store.logs(of: exchange, sharedWith: organisation, readableBy: peer.version)
        let entries = exchange.map { agreement in
            HeadsMessage.Entry(agreement: agreement, heads: logs[agreement].map(RepairPlanner.heads(of:)) ?? [])
        }
        update { state in
            state.heads.describe(exchange)
            for agreement in whole.sorted() where state.heads.needsRepair(agreement, peerHeads: []) {
                state.repairs.request(agreement, peerHeads: [])
            }
        }
        senderWakeup.continuation.yield()
        try await sendHeads(entries, final: true)
        update { $0.heads.sentFinal() }
    }

    /// Sends heads in frames of bounded size; the last is marked final when `final`, and every
    /// frame is once this side's final frame went out (answers after it must not look unfinished).
    private func sendHeads(_ entries: [HeadsMessage.Entry], final: Bool) async throws {
        let frames = FramePacking.headsFrames(entries, maximumBytes: configuration.batchBytes)
        let afterFinal = state.read(\.heads.finalSent)
        for (index, frame) in frames.enumerated() {
            try await send(.heads(HeadsMessage(entries: frame, isFinal: afterFinal || (final && index == frames.count - 1))))
        }
        if frames.isEmpty, final { try await send(.heads(HeadsMessage(entries: [], isFinal: true))) }
    }

    /// The peer's heads: queue what it lacks, and answer with this side's heads of agreements it
    /// has not described yet this round (the peer may know differences this side does not).
    ///
    /// An agreement not shared with the peer is answered with empty heads (send me what you
    /// have), every time, exactly like one this node does not hold: nothing a non-party sees may
    /// depend on what this node holds (docs/security-model.md, "Need-to-know"). Nothing is
    /// remembered of it, so a flood of made-up ids costs no memory.
    func receiveHeads(_ message: HeadsMessage) async throws {
        let logs = try await store.logs(of: message.entries.map(\.agreement), sharedWith: organisation, readableBy: peer.version)
        let answers = update { state -> [HeadsMessage.Entry] in
            var answers: [HeadsMessage.Entry] = []
            for entry in message.entries {
                guard let log = logs[entry.agreement] else {
                    answers.append(HeadsMessage.Entry(agreement: entry.agreement, heads: []))
                    continue
                }
                if state.heads.answers(entry.agreement) {
                    answers.append(HeadsMessage.Entry(agreement: entry.agreement, heads: RepairPlanner.heads(of: log)))
                }
                if state.heads.needsRepair(entry.agreement, peerHeads: entry.heads) {
                    state.repairs.request(entry.agreement, peerHeads: entry.heads)
                }
                state.round?.describedByPeer.insert(entry.agreement)
            }
            if message.isFinal { state.round?.peerHeadsFinal = true }
            return answers
        }
        senderWakeup.continuation.yield()
        if !answers.isEmpty { try await sendHeads(answers, final: false) }
    }
}
