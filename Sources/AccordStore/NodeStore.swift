public import AccordCrypto
public import AccordModel
import Dispatch
import Foundation
import Synchronization

/// A node's durable store: one SQLite file in WAL mode holding the change log, the materialised
/// agreements, peer state and known certificates.
///
/// All SQLite work runs on two dedicated serial queues, never on the caller's thread or an event
/// loop: one writer (group commit: every write request waiting when a transaction starts shares
/// it and its one fsync) and one reader (WAL lets it read while the writer writes). When a write
/// method returns, what it wrote is durable (with `Durability.full`, on stable storage).
public final class NodeStore: Sendable {
    public let configuration: StoreConfiguration
    private let lock: Mutex<DataDirectoryLock?>
    private let writer: Confined<StoreWriter>
    private let reader: Confined<SQLiteConnection>
    private let writerQueue = DispatchQueue(label: "accord.store.writer")
    private let readerQueue = DispatchQueue(label: "accord.store.reader")
    private let pending = Mutex(PendingWrites())
    private let watchers = Mutex(LogWatchers())
    private let commitObservers = Mutex(CommitObservers())

    /// The page size of a new database. A signed change of ~1.1 KB is one row of the log: 4 KiB
    /// pages hold three and leave ~17 % of each page empty, 8 KiB pages hold seven (~5 % empty);
    /// measured in BENCHMARKS.md. A database created with another page size keeps it (SQLite cannot
    /// change it in WAL mode without a VACUUM).
    package static let newDatabasePageSize = 8192

    /// Page cache and checkpoint settings of the writer, shared with the benchmark's raw-SQLite
    /// baseline so the two are compared on equal terms. Change ids are hashes, so their index takes
    /// inserts at random places: 16 MiB of page cache holds the hot index pages of 100,000
    /// agreements (their three random-key indexes are ~10 MB), and checkpointing every 4,096 pages
    /// (32 MiB of WAL with 8 KiB pages, not SQLite's 1,000) writes each hot page back less often.
    /// The cache is memory every node keeps (the 100 MB target of BENCHMARKS.md): the 32 MiB it
    /// had were not measurably faster.
    package static let performancePragmas = "PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 4096"

    /// Requests per group transaction, so one transaction stays short even under a flood.
    static let maximumGroupSize = 512

    /// Opens (creating if needed) the store in `configuration.directory`. Blocking: call it before
    /// starting event loops or from a thread that may block.
    ///
    /// - Throws: `StoreError` naming the file: `.locked` if another process holds the directory,
    ///   `.notADatabase` for a foreign or damaged file, `.newerSchema`, `.corrupt`, `.unavailable`,
    ///   `.readOnly`. A file that fails these checks is never written to.
    public init(configuration: StoreConfiguration) throws(StoreError) {
        self.configuration = configuration
        let directory = configuration.directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.unavailable, "cannot create the data directory: \(error.localizedDescription)", path: directory)
        }
        let directoryLock = try DataDirectoryLock(directory: directory)
        lock = Mutex(directoryLock)
        let path = configuration.databasePath
        let exists = FileManager.default.fileExists(atPath: path)
        if exists { try NodeStore.checkHeader(path) }

        let connection = try SQLiteConnection(path: path, create: !exists)
        try connection.execute("PRAGMA busy_timeout = 5000")
        // Before anything is written: the page size is fixed once the file is in WAL mode.
        if !exists { try connection.execute("PRAGMA page_size = \(NodeStore.newDatabasePageSize)") }
        try NodeStore.checkIsAccordDatabase(connection, checkIntegrity: configuration.checkIntegrityOnOpen)
        guard try connection.text("PRAGMA journal_mode = WAL") == "wal" else {
            throw StoreError(.unavailable, "the database cannot use write-ahead logging", path: path)
        }
        try connection.execute("PRAGMA synchronous = \(configuration.durability == .full ? "FULL" : "NORMAL")")
        try connection.execute(NodeStore.performancePragmas)
        try Schema.migrate(connection)
        try NodeStore.checkOwner(connection, node: configuration.node)
        writer = Confined(try StoreWriter(connection: connection, configuration: configuration))

        let readConnection = try SQLiteConnection(path: path, create: false)
        try readConnection.execute("PRAGMA busy_timeout = 5000; PRAGMA query_only = 1")
        reader = Confined(readConnection)
    }

    /// Waits for queued writes and reads to finish, then closes the database and releases the
    /// data directory. Later calls fail with `.closed`.
    public func close() async {
        pending.withLock { $0.closed = true }
        // Each connection is released on its own queue, after the work queued before it.
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            writerQueue.async {
                self.writer.value = nil
                self.readerQueue.async {
                    self.reader.value = nil
                    continuation.resume()
                }
            }
        }
        lock.withLock { $0 = nil }
        for continuation in watchers.withLock({ Array($0.continuations.values) }) { continuation.finish() }
    }

    // MARK: - Writing

    /// Judges `changes` by the model's rules and makes the outcome durable: accepted changes in
    /// the log and the materialised agreements, rejected ones with their reason, held ones until
    /// they can be judged. A change already known is reported as `.duplicate` and changes nothing.
    public func apply(_ changes: [VerifiedChange], nowMillis: UInt64) async throws(StoreError) -> ApplyReport {
        try await write { writer, context throws(StoreError) in
            try writer.apply(changes, origin: nil, nowMillis: nowMillis, context: &context)
        }
    }

    /// Applies a batch received from `peer` and records the exchange in its peer state, in one
    /// transaction (one commit per received batch). `refused` are the batch's changes that failed
    /// before the store (undecodable, badly signed): counted for the peer, never recorded by id;
    /// `known` counts those dropped before it because the store had them already.
    /// Live push does not send the accepted changes back to `peer`.
    public func receive(
        _ changes: [VerifiedChange], refused: [ChangeRejection], known: Int = 0, from peer: NodeID, nowMillis: UInt64
    ) async throws(StoreError) -> ApplyReport {
        try await write { writer, context throws(StoreError) in
            let report = try writer.apply(changes, origin: peer, nowMillis: nowMillis, context: &context)
            let rejections = refused + report.allRejections
            try PeerUpdate.apply(
                .received(count: changes.count + refused.count + known, rejected: rejections.count, lastRejection: rejections.last),
                to: peer, nowMillis: nowMillis, writer.connection
            )
            return report
        }
    }

    /// Re-judges changes held because they were stamped ahead of this node's clock.
    public func releaseHeld(nowMillis: UInt64) async throws(StoreError) -> ApplyReport {
        try await write { writer, context throws(StoreError) in try writer.releaseHeld(nowMillis: nowMillis, context: &context) }
    }

    /// Authors a change on this node: on top of every head it has (or a new agreement when
    /// `agreement` is nil), stamped by the node's clock, signed with `signer`, judged by the same
    /// rules as any peer's change, and durable when this returns.
    ///
    /// - Throws: `ChangeRejection` if the rules refuse the change (nothing is recorded), or
    ///   `StoreError`.
    ///
    /// - Parameter check: sees the agreement as it stands (from the writer's replica, in the same
    ///   transaction), or nil when `agreement` is nil or not held, before the change is made; it
    ///   refuses the change by throwing, and that error comes back unchanged with nothing written.
    public func author(
        _ agreement: AgreementID?, _ edits: [Edit], signer: ChangeSigner, nowMillis: UInt64,
        check: (@Sendable (Agreement?) throws -> Void)? = nil
    ) async throws -> StoredChange {
        let result: Result<StoredChange, any Error> = try await write { writer, context throws(StoreError) in
            if let check {
                let current = try agreement.map { id throws(StoreError) in try writer.replica(id) }.flatMap { $0.exists ? $0.agreement : nil }
                do {
                    try check(current)
                } catch {
                    return .failure(error)
                }
            }
            return try writer.author(agreement, edits, signer: signer, nowMillis: nowMillis, context: &context).mapError { $0 }
        }
        return try result.get()
    }

    /// Makes, signs and persists many changes authored on this node in one transaction (one
    /// fsync): a bulk import. Each is judged on its own: one the rules refuse leaves no trace
    /// and does not stop the others.
    public func authorMany(
        _ requests: [(agreement: AgreementID?, edits: [Edit])], signer: ChangeSigner, nowMillis: UInt64
    ) async throws(StoreError) -> [Result<StoredChange, ChangeRejection>] {
        try await write { writer, context throws(StoreError) in
            var results: [Result<StoredChange, ChangeRejection>] = []
            results.reserveCapacity(requests.count)
            for request in requests {
                results.append(try writer.author(request.agreement, request.edits, signer: signer, nowMillis: nowMillis, context: &context))
            }
            return results
        }
    }

    /// Creates the agreements of an import, in one transaction: one whose reference this node
    /// imported before (or earlier in the same call) is not created again; one the rules refuse
    /// leaves no trace and does not stop the others.
    public func importMany(
        _ requests: [(reference: String, edits: [Edit])], signer: ChangeSigner, nowMillis: UInt64
    ) async throws(StoreError) -> [ImportOutcome] {
        try await write { writer, context throws(StoreError) in
            var outcomes: [ImportOutcome] = []
            outcomes.reserveCapacity(requests.count)
            let known = try writer.connection.statement("SELECT agreement FROM import_references WHERE reference = ?")
            let remember = try writer.connection.statement("INSERT INTO import_references (reference, agreement) VALUES (?, ?)")
            for request in requests {
                defer { known.reset() }
                known.bind(1, request.reference)
                if try known.step() {
                    outcomes.append(.present(try LogQueries.agreementID(known.blob(0), path: writer.connection.path)))
                    continue
                }
                switch try writer.author(nil, request.edits, signer: signer, nowMillis: nowMillis, context: &context) {
                case .success(let stored):
                    defer { remember.reset() }
                    try remember.bind(1, request.reference).bind(2, stored.agreement.uuid.bytes).run()
                    outcomes.append(.created(stored))
                case .failure(let rejection):
                    outcomes.append(.refused(rejection))
                }
            }
            return outcomes
        }
    }

    /// Records an exchange with a peer node.
    public func updatePeer(_ node: NodeID, _ update: PeerUpdate, nowMillis: UInt64) async throws(StoreError) {
        try await updatePeer(node, [update], nowMillis: nowMillis)
    }

    /// Records several things about a peer node in one transaction.
    public func updatePeer(_ node: NodeID, _ updates: [PeerUpdate], nowMillis: UInt64) async throws(StoreError) {
        try await write { writer, _ throws(StoreError) in
            for update in updates { try PeerUpdate.apply(update, to: node, nowMillis: nowMillis, writer.connection) }
        }
    }

    /// Forgets a peer node: its counters and delivery cursor. If it connects again it is met
    /// anew, and the first reconciliation round finds what it lacks.
    ///
    /// - Returns: whether the store knew the node.
    public func forgetPeer(_ node: NodeID) async throws(StoreError) -> Bool {
        try await write { writer, _ throws(StoreError) in
            try writer.connection.statement("DELETE FROM peers WHERE organisation = ? AND node = ?")
                .bind(1, node.organisation.rawValue).bind(2, node.name).run()
            return writer.connection.changes > 0
        }
    }

    /// Remembers a node certificate (which the caller has checked against the consortium CA).
    public func rememberCertificate(_ certificate: Certificate, nowMillis: UInt64) async throws(StoreError) {
        try await write { writer, _ throws(StoreError) in
            try writer.connection.statement(
                """
                INSERT OR IGNORE INTO certificates (fingerprint, organisation, node, der, not_before, not_after, first_seen)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """
            )
            .bind(1, certificate.fingerprint.bytes).bind(2, certificate.organisation).bind(3, certificate.commonName)
            .bind(4, certificate.derRepresentation).bind(5, Int64(certificate.notBefore.timeIntervalSince1970))
            .bind(6, Int64(certificate.notAfter.timeIntervalSince1970)).bind(7, Int64(bitPattern: nowMillis / 1000))
            .run()
        }
    }

    /// Runs `body` on the writer queue inside a group transaction and returns once it committed.
    private func write<Result: Sendable>(
        _ body: @escaping @Sendable (StoreWriter, inout WriteContext) throws(StoreError) -> Result
    ) async throws(StoreError) -> Result {
        let closed = StoreError(.closed, "the store is closed", path: configuration.databasePath)
        let outcome: Swift.Result<Result, StoreError> = await withCheckedContinuation { continuation in
            let box = Confined<Swift.Result<Result, StoreError>>(nil)
            let request = PendingWrite(
                work: { writer, context in
                    do throws(StoreError) {
                        box.value = .success(try body(writer, &context))
                        return nil
                    } catch {
                        box.value = .failure(error)
                        return error
                    }
                },
                complete: { failure in
                    continuation.resume(returning: failure.map { .failure($0) } ?? box.value ?? .failure(closed))
                }
            )
            let (accepted, startDrain) = pending.withLock { state -> (Bool, Bool) in
                guard !state.closed else { return (false, false) }
                state.queue.append(request)
                defer { state.draining = true }
                return (true, !state.draining)
            }
            guard accepted else { return request.complete(closed) }
            if startDrain { writerQueue.async { self.drain() } }
        }
        return try outcome.get()
    }

    /// Commits waiting write requests in groups until none is left.
    private func drain() {
        while true {
            let group = pending.withLock { state -> [PendingWrite] in
                let group = Array(state.queue.prefix(Self.maximumGroupSize))
                state.queue.removeFirst(group.count)
                if group.isEmpty { state.draining = false }
                return group
            }
            if group.isEmpty { return }
            commit(group)
        }
    }

    private func commit(_ group: [PendingWrite]) {
        guard let writer = writer.value else {
            let closed = StoreError(.closed, "the store is closed", path: configuration.databasePath)
            for request in group { request.complete(closed) }
            return
        }
        var context = WriteContext()
        let observers = commitObservers.withLock { Array($0.observers.values) }
        if !observers.isEmpty { context.notice = CommitNoticeDraft() }
        var failure: StoreError?
        do throws(StoreError) {
            try writer.connection.execute("BEGIN IMMEDIATE")
            for request in group {
                if let error = request.work(writer, &context) { throw error }
            }
            try writer.materialise(&context)
            try writer.connection.execute("COMMIT")
            announce(context)
            if let draft = context.notice, !draft.isEmpty {
                let notice = draft.notice
                for observer in observers { observer(notice) }
            }
        } catch {
            try? writer.connection.execute("ROLLBACK")
            writer.evict(context.touched)
            try? writer.reloadCounters()
            failure = error
        }
        for request in group { request.complete(failure) }
    }

    // MARK: - Watching

    /// The sequence number of the latest accepted change, each time a commit adds some.
    ///
    /// Each watcher holds only the newest value (`.bufferingNewest(1)`): a slow watcher never makes
    /// the store buffer, it just sees the latest number and reads `changes(after:for:limit:)` from
    /// its own cursor. This is what live push to peers is built on.
    public func acceptedSequences() -> AsyncStream<Int64> {
        let (stream, continuation) = AsyncStream<Int64>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = watchers.withLock { watchers -> Int in
            watchers.nextID += 1
            watchers.continuations[watchers.nextID] = continuation
            return watchers.nextID
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.watchers.withLock { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    /// Calls `observer` with what each transaction did, on the writer queue right after it
    /// commits (and before its writers resume): it must be quick and must not wait on the store.
    /// Observing costs each transaction a read per changed agreement; stop it with `cancel()`.
    public func observeCommits(_ observer: @escaping @Sendable (CommitNotice) -> Void) -> CommitObservation {
        let id = commitObservers.withLock { state -> Int in
            state.nextID += 1
            state.observers[state.nextID] = observer
            return state.nextID
        }
        return CommitObservation { [weak self] in _ = self?.commitObservers.withLock { $0.observers.removeValue(forKey: id) } }
    }

    private func announce(_ context: WriteContext) {
        guard let latest = context.dirty.values.max() else { return }
        for continuation in watchers.withLock({ Array($0.continuations.values) }) { continuation.yield(latest) }
    }

    // MARK: - Reading

    /// Runs `body` with the read connection on the reader queue.
    func read<Result: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws(StoreError) -> Result
    ) async throws(StoreError) -> Result {
        let outcome: Swift.Result<Result, StoreError> = await withCheckedContinuation { continuation in
            readerQueue.async {
                guard let connection = self.reader.value else {
                    continuation.resume(returning: .failure(StoreError(.closed, "the store is closed", path: self.configuration.databasePath)))
                    return
                }
                // However the body ended, no statement it stepped keeps its snapshot open: the
                // next read must see every commit made before it starts.
                defer { connection.resetStatements() }
                do throws(StoreError) {
                    continuation.resume(returning: .success(try body(connection)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try outcome.get()
    }
}

/// A value confined to one serial queue. `@unchecked Sendable`: every access happens on the queue
/// that owns it (the store's writer or reader queue), or strictly before and after it in the
/// life of one write request, never concurrently.
final class Confined<Value>: @unchecked Sendable {
    var value: Value?
    init(_ value: Value?) { self.value = value }
}

extension DataDirectoryLock: @unchecked Sendable {}

/// A write request waiting for the next group transaction.
struct PendingWrite: Sendable {
    /// Does the request's work inside the group transaction; returns its failure, if any.
    let work: @Sendable (StoreWriter, inout WriteContext) -> StoreError?
    /// Resumes the caller once the group committed (`nil`) or rolled back (the error).
    let complete: @Sendable (StoreError?) -> Void
}

struct LogWatchers: Sendable {
    var continuations: [Int: AsyncStream<Int64>.Continuation] = [:]
    var nextID = 0
}

struct PendingWrites: Sendable {
    var queue: [PendingWrite] = []
    var draining = false
    var closed = false
}
