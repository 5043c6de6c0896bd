import AccordCrypto
import AccordModel
import AccordStore

/// What a session sends: repairs first, then the live log; in batches within the send window,
/// each preceded by the certificates of its authors the peer has not been sent yet.
extension PeerSession {
    /// Agreements whose logs the sender reads at once.
    static let repairReadSize = 256

    /// Watches the log and wakes the sender for every commit.
    func watchLog() async {
        for await _ in store.acceptedSequences() {
            senderWakeup.continuation.yield()
        }
    }

    /// The only task that sends changes: repairs first, then the live log from where the
    /// session started.
    func sendChanges() async throws {
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
            let page = try await store.changePage(
                after: position, for: organisation, excluding: peer.node, limit: configuration.batchChanges, readableBy: peer.version
            )
            if !page.changes.isEmpty {
                try await sendHistoryForNewParty(page.changes)
                try await sendBatches(page.changes, kind: .stream(through: page.through))
            }
            position = page.through
            if page.changes.count < configuration.batchChanges {
                // With no stream batch unacknowledged, the stream has delivered all it read.
                update { state in
                    if !state.window.isStreaming { state.cursor.streamCaughtUp(through: page.through) }
                }
                guard await wakeups.next() != nil else { return }
            }
        }
    }

    private func sendRepairs(_ repairs: [RepairRequest]) async throws {
        let logs = try await store.logs(of: repairs.map(\.agreement), sharedWith: organisation, readableBy: peer.version)
        let cursor = state.read(\.cursor.position)
        // A peer head missing from the log sent to it may still be a change this node holds: one
        // after the log's end, for a former party, whose log ends at its withdrawal. Then the
        // peer lacks nothing of ours there, and what it acknowledged is no guide to what it has
        // (a node that lost its disk after its withdrawal, then wrote again, was never repaired).
        let outside = repairs.flatMap { repair in repair.peerHeads.filter { head in logs[repair.agreement]?.contains { $0.id == head } == false } }
        let held = outside.isEmpty ? [] : Set(try await store.verdicts(of: outside).keys)
        var changes: [StoredChange] = []
        for repair in repairs {
            guard let log = logs[repair.agreement] else { continue }
            let inLog = Set(log.map(\.id))
            let holdsEveryPeerHead = repair.peerHeads.allSatisfy { inLog.contains($0) || held.contains($0) }
            changes += RepairPlanner.changesToSend(
                log: log, peerHeads: repair.peerHeads, acknowledgedThrough: holdsEveryPeerHead ? 0 : cursor
            )
        }
        try await sendBatches(changes, kind: .repair)
    }

    /// A change that makes the peer's organisation a party opens the agreement's earlier history
    /// to it: send that history first, so the new party can apply the change at once. A genesis
    /// change has no earlier history (every other change of its agreement depends on it), so
    /// agreements created with the peer as a party cost no read of their logs.
    private func sendHistoryForNewParty(_ changes: [StoredChange]) async throws {
        let joined = changes.filter { stored in
            !stored.change.change.isGenesis
                && stored.edits.contains { if case .addParty(let party) = $0 { party == organisation } else { false } }
        }
        guard !joined.isEmpty else { return }
        let logs = try await store.logs(of: joined.map(\.agreement), sharedWith: organisation, readableBy: peer.version)
        var history: [StoredChange] = []
        for stored in joined {
            history += (logs[stored.agreement] ?? []).filter { $0.sequence < stored.sequence }
        }
        try await sendBatches(history, kind: .repair)
    }

    /// Sends changes in batches within the window, each preceded by the certificates of authors
    /// the peer has not been sent yet in this session. A stream batch that is not the last of
    /// the page vouches only for the changes it holds.
    private func sendBatches(_ changes: [StoredChange], kind: SendWindow.Kind) async throws {
        let batches = FramePacking.batches(of: changes, maximumChanges: configuration.batchChanges, maximumBytes: configuration.batchBytes)
        for range in batches {
            let batch = changes[range]
            try await sendCertificates(for: batch)
            try await sendStatements(for: batch)
            var batchKind = kind
            if case .stream = kind, range.upperBound < changes.endIndex { batchKind = .stream(through: batch.last!.sequence) }
            let number = try await reserveBatch(batchKind)
            try await send(.changes(batch: number, encoded: batch.map(\.encoded)))
            services.metrics.update { $0.changesSent += batch.count }
            update { $0.sentSincePersistedProgress += batch.count }
        }
    }

    private func sendCertificates(for batch: ArraySlice<StoredChange>) async throws {
        let authors = Set(batch.map(\.author))
        let certificates = authors.flatMap { services.directory.certificates(of: $0) }
        let unsent = update { state in certificates.filter { state.certificatesSent.insert($0.fingerprint).inserted } }
        if !unsent.isEmpty { try await send(.certificates(unsent.map(\.derRepresentation))) }
    }

    /// Right before a batch: who made its changes, where their authors said (version 3), and
    /// approvers' passkey signatures over its approvals (version 4). One read for both.
    private func sendStatements(for batch: ArraySlice<StoredChange>) async throws {
        guard peer.version >= 3 else { return }
        let held = try await store.statements(about: batch.map(\.id), passkeySignatures: peer.version >= 4)
        if !held.attributions.isEmpty { try await send(.attributions(batch.compactMap { held.attributions[$0.id]?.encoded })) }
        if !held.passkeySignatures.isEmpty { try await send(.passkeySignatures(batch.compactMap { held.passkeySignatures[$0.id]?.encoded })) }
    }

    /// A batch number once the window has room.
    private func reserveBatch(_ kind: SendWindow.Kind) async throws -> UInt32 {
        try await state.wait { $0.window.hasRoom }
        return update { $0.window.reserve(kind) }
    }
}
