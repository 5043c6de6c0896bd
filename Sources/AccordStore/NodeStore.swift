import AccordCrypto
import AccordModel
import Dispatch
import Foundation
import NIOConcurrencyHelpers

/// A node's durable store: one SQLite file in WAL mode holding the change log, the materialised
/// agreements, peer state and known certificates.
///
/// All SQLite work runs on two dedicated serial queues, never on the caller's thread or an event
/// loop: one writer (group commit: every write request waiting when a transaction starts shares
/// it and its one fsync) and one reader (WAL lets it read while the writer writes). When a write
/// method returns, what it wrote is durable (with `Durability.full`, on stable storage).
public final class NodeStore: Sendable {
    public let configuration: StoreConfiguration
    private let lock: NIOLockedValueBox<DataDirectoryLock?>
    let writer: Confined<StoreWriter>
    let reader: Confined<SQLiteConnection>
    let writerQueue = DispatchQueue(label: "accord.store.writer")
    let readerQueue = DispatchQueue(label: "accord.store.reader")
    let pending = NIOLockedValueBox(PendingWrites())
    let watchers = NIOLockedValueBox(LogWatchers())
    let commitObservers = NIOLockedValueBox(CommitObservers())
    /// Write transactions that failed and were rolled back, by `StoreError.Code` (a disk that is
    /// full, an I/O error): `accord_store_write_failures_total`.
    let failedWrites = NIOLockedValueBox<[String: Int]>([:])

    /// Failed write transactions since the store was opened, by the store error's code.
    public var writeFailures: [String: Int] { failedWrites.withLockedValue { $0 } }

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
        lock = NIOLockedValueBox(directoryLock)
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
        pending.withLockedValue { $0.closed = true }
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
        lock.withLockedValue { $0 = nil }
        for continuation in watchers.withLockedValue({ Array($0.continuations.values) }) { continuation.finish() }
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
