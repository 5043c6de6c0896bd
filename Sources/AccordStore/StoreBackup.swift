public import AccordModel
import CSQLite
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a backup file holds, checked by opening it.
public struct BackupReport: Sendable, Hashable {
    public let path: String
    public let bytes: Int64
    /// The node whose data directory the backup was taken from.
    public let node: NodeID
    /// The last sequence of that node's log in the backup: every change the node had accepted
    /// (and so acknowledged) up to that point is in it.
    public let lastSequence: Int64
    public let agreements: Int
    public let changes: Int
}

/// Backup and restore of a node's store: a consistent snapshot taken while the node serves, and
/// its return into an empty data directory (docs/operations.md).
extension NodeStore {
    /// Writes a consistent snapshot of the store to `path` and checks it.
    ///
    /// The snapshot is `VACUUM INTO` from a read-only connection of its own, on a thread of its own:
    /// it reads one WAL snapshot (every change committed when it starts, none after), compacted,
    /// while the writer keeps committing and the reader keeps answering. The file is created
    /// readable by the owner only (it holds every agreement) and must not exist before.
    ///
    /// - Throws: `StoreError`: `.exists` if `path` exists, `.unavailable` if it cannot be
    ///   created, `.full`, `.corrupt` if the written snapshot fails its check.
    public func backup(to path: String) async throws(StoreError) -> BackupReport {
        let source = configuration.databasePath
        let outcome: Result<BackupReport, StoreError> = await withCheckedContinuation { continuation in
            DispatchQueue(label: "accord.store.backup").async {
                continuation.resume(returning: Result { () throws(StoreError) in
                    try Self.createEmpty(path)
                    do throws(StoreError) {
                        let connection = try SQLiteConnection(path: source, create: false, readOnly: true)
                        try connection.execute("PRAGMA busy_timeout = 5000")
                        let statement = try connection.statement("VACUUM INTO :path")
                        try statement.bind(":path", path).run()
                        try Self.synchronise(path)
                        return try Self.checkBackup(path)
                    } catch {
                        try? FileManager.default.removeItem(atPath: path)
                        throw error
                    }
                })
            }
        }
        return try outcome.get()
    }

    /// Checks that `path` is a complete, undamaged Accord database (`PRAGMA integrity_check`)
    /// and tells whose it is and what it holds. Opens it read-only: it is not changed.
    public static func checkBackup(_ path: String) throws(StoreError) -> BackupReport {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = attributes[.size] as? Int64 else {
            throw StoreError(.unavailable, "the backup cannot be read", path: path)
        }
        try checkHeader(path)
        let connection = try SQLiteConnection(path: path, create: false, readOnly: true)
        guard try connection.integer("SELECT count(*) FROM sqlite_master") ?? 0 > 0 else {
            throw StoreError(.notADatabase, "the file is empty, not an Accord backup", path: path)
        }
        try checkIsAccordDatabase(connection, checkIntegrity: true)
        let integrity = try connection.statement("PRAGMA integrity_check")
        var problems: [String] = []
        while try integrity.step() { problems.append(integrity.text(0)) }
        guard problems == ["ok"] else {
            throw StoreError(.corrupt, "the backup is damaged: \(problems.prefix(3).joined(separator: "; "))", path: path)
        }
        guard let owner = try connection.text("SELECT value FROM meta WHERE key = 'node'"), let node = NodeID(owner) else {
            throw StoreError(.inconsistent, "the backup does not say which node it belongs to", path: path)
        }
        return BackupReport(
            path: path, bytes: size, node: node,
            lastSequence: try connection.integer("SELECT coalesce(max(seq), 0) FROM changes") ?? 0,
            agreements: Int(try connection.integer("SELECT count(*) FROM agreements") ?? 0),
            changes: Int(try connection.integer("SELECT count(*) FROM changes") ?? 0)
        )
    }

    /// Puts the backup at `backup` in place as the database of `configuration`'s data directory,
    /// which must hold no database (move a damaged one aside first: a restore never overwrites).
    /// The backup must be this node's. Blocking; run it before the node starts. The node then
    /// catches up from its partners whatever happened after the backup.
    ///
    /// - Throws: `StoreError`: `.exists` if the data directory holds a database, `.locked` if a
    ///   node runs on it, `.inconsistent` if the backup is another node's, and any backup check's.
    @discardableResult
    public static func restore(backup: String, into configuration: StoreConfiguration) throws(StoreError) -> BackupReport {
        let report = try checkBackup(backup)
        guard report.node == configuration.node else {
            throw StoreError(.inconsistent, "the backup is of node \(report.node), not \(configuration.node); nothing was restored", path: backup)
        }
        do {
            try FileManager.default.createDirectory(
                atPath: configuration.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw StoreError(.unavailable, "cannot create the data directory: \(error.localizedDescription)", path: configuration.directory)
        }
        let lock = try DataDirectoryLock(directory: configuration.directory)
        defer { withExtendedLifetime(lock) {} }
        let target = configuration.databasePath
        for file in [target, target + "-wal"] where FileManager.default.fileExists(atPath: file) {
            throw StoreError(.exists, "the data directory holds a database already; move it aside to restore (nothing was changed)", path: file)
        }
        let partial = target + ".restoring"
        try? FileManager.default.removeItem(atPath: partial)
        try? FileManager.default.removeItem(atPath: target + "-shm")
        do {
            try FileManager.default.copyItem(atPath: backup, toPath: partial)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: partial)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw StoreError(.unavailable, "cannot copy the backup into the data directory: \(error.localizedDescription)", path: partial)
        }
        try synchronise(partial)
        // The rename is the moment of restore: before it the directory holds no database, after it
        // the whole backup (the directory's own fsync makes the rename durable).
        guard rename(partial, target) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: partial)
            throw StoreError(.unavailable, "cannot move the restored database into place: \(reason)", path: target)
        }
        try synchronise(configuration.directory)
        return report
    }

    /// Creates `path` empty, owner-only, failing if it exists.
    private static func createEmpty(_ path: String) throws(StoreError) {
        guard path.hasPrefix("/") else {
            throw StoreError(.unavailable, "the backup path must be absolute (it is the daemon's, not accordctl's)", path: path)
        }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let failure = errno
            if failure == EEXIST { throw StoreError(.exists, "the file exists already; choose a new name (nothing was overwritten)", path: path) }
            throw StoreError(.unavailable, "cannot create the backup: \(String(cString: strerror(failure)))", path: path)
        }
        Glibc.close(descriptor)
    }

    /// fsync of a file or directory.
    private static func synchronise(_ path: String) throws(StoreError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        defer { if descriptor >= 0 { Glibc.close(descriptor) } }
        guard descriptor >= 0, fsync(descriptor) == 0 else {
            throw StoreError(.unavailable, "cannot flush to disk: \(String(cString: strerror(errno)))", path: path)
        }
    }
}
