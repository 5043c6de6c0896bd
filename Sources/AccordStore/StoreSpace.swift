/// Where a database's bytes go: the pages of each table and index, read with SQLite's `dbstat`
/// virtual table. For benchmarks and diagnosis (the bytes-per-agreement target of BENCHMARKS.md),
/// never on a node's hot path: it reads every page of the file.
package struct StoreSpace: Sendable {
    package struct Object: Sendable {
        /// A table or index name as in `sqlite_schema` (SQLite names UNIQUE constraints'
        /// indexes `sqlite_autoindex_<table>_N`).
        package let name: String
        package let bytes: Int
        /// Bytes of the object's pages that hold nothing (free space inside its pages).
        package let unusedBytes: Int
    }

    package let pageSize: Int
    /// Largest first.
    package let objects: [Object]

    /// Reads the database at `path` read-only; the node that owns it should be stopped.
    package init(databaseAt path: String) throws(StoreError) {
        let connection = try SQLiteConnection(path: path, create: false, readOnly: true)
        pageSize = Int(try connection.integer("PRAGMA page_size") ?? 0)
        let statement = try connection.statement(
            "SELECT name, sum(pgsize), sum(unused) FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC, name"
        )
        var objects: [Object] = []
        while try statement.step() {
            objects.append(Object(name: statement.text(0), bytes: Int(statement.int64(1)), unusedBytes: Int(statement.int64(2))))
        }
        self.objects = objects
    }
}
