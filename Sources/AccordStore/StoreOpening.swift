import AccordModel
import Foundation

/// What the store checks of a database file before and as it opens it: that it is SQLite, that it
/// is Accord's, that it is intact, and that it belongs to this node.
extension NodeStore {
    /// Refuses a file that is not SQLite before SQLite may touch it.
    static func checkHeader(_ path: String) throws(StoreError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StoreError(.unavailable, "the database file cannot be read", path: path)
        }
        defer { try? handle.close() }
        let header = (try? handle.read(upToCount: 16)) ?? Data()
        guard header.isEmpty || header == Data("SQLite format 3\0".utf8) else {
            throw StoreError(
                .notADatabase, "the file is not an SQLite database (its header is wrong); it was left untouched", path: path
            )
        }
    }

    /// Refuses an SQLite file that belongs to something else, or that is damaged.
    static func checkIsAccordDatabase(_ connection: SQLiteConnection, checkIntegrity: Bool) throws(StoreError) {
        let version = try connection.integer("PRAGMA user_version") ?? 0
        let tables = try connection.integer("SELECT count(*) FROM sqlite_master") ?? 0
        if version == 0, tables > 0 {
            throw StoreError(
                .notADatabase, "the file is an SQLite database of another application, not Accord's; it was left untouched",
                path: connection.path
            )
        }
        guard checkIntegrity, tables > 0 else { return }
        let statement = try connection.statement("PRAGMA quick_check")
        var problems: [String] = []
        while try statement.step() { problems.append(statement.text(0)) }
        guard problems == ["ok"] else {
            throw StoreError(
                .corrupt, "the database is damaged: \(problems.prefix(3).joined(separator: "; ")); restore it from a backup",
                path: connection.path
            )
        }
    }

    /// A data directory belongs to one node for ever.
    static func checkOwner(_ connection: SQLiteConnection, node: NodeID) throws(StoreError) {
        let owner = try connection.text("SELECT value FROM meta WHERE key = 'node'")
        if let owner {
            guard owner == node.description else {
                throw StoreError(
                    .inconsistent, "the data directory belongs to node \(owner), not \(node); use that node's configuration",
                    path: connection.path
                )
            }
            return
        }
        try connection.statement("INSERT INTO meta (key, value) VALUES ('node', :node)").bind(":node", node.description).run()
    }
}
