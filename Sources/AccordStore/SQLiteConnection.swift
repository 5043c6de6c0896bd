import CSQLite

/// One SQLite connection. Not thread-safe: each connection is confined to one serial queue.
final class SQLiteConnection {
    let path: String
    private let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]

    /// Opens (and with `create`, creates) the database at `path`.
    init(path: String, create: Bool, readOnly: Bool = false) throws(StoreError) {
        self.path = path
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE)
            | (create && !readOnly ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw SQLiteConnection.error(status, message, path: path, doing: "open the database")
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs SQL without results (several statements allowed).
    func execute(_ sql: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        guard status == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(message)
            throw SQLiteConnection.error(status, text, path: path, doing: "run \(sql.prefix(60))")
        }
    }

    /// Resets every cached statement: a statement stepped short of its last row keeps its read
    /// transaction — and so an old snapshot — open, and every later read on this connection
    /// would miss what was written since. `NodeStore.read` calls it after each read.
    func resetStatements() {
        for statement in statements.values { statement.reset() }
    }

    /// A prepared statement, cached by its SQL text and reset for reuse. A caller that stops
    /// stepping before the last row must `reset()` it, or it keeps a read transaction open.
    func statement(_ sql: String) throws(StoreError) -> SQLiteStatement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var pointer: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &pointer, nil)
        guard status == SQLITE_OK, let pointer else {
            throw SQLiteConnection.error(status, lastMessage, path: path, doing: "prepare \(sql.prefix(60))")
        }
        let statement = SQLiteStatement(pointer, connection: self)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    /// `immediate` takes the write lock at once (writers); a deferred transaction only reads, from
    /// one snapshot of the database (several queries that must agree with each other).
    func transaction<Result>(immediate: Bool = true, _ body: () throws(StoreError) -> Result) throws(StoreError) -> Result {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// The first column of the first row of a query, as an integer.
    func integer(_ sql: String) throws(StoreError) -> Int64? {
        let statement = try statement(sql)
        defer { statement.reset() }
        return try statement.step() ? statement.int64(0) : nil
    }

    func text(_ sql: String) throws(StoreError) -> String? {
        let statement = try statement(sql)
        defer { statement.reset() }
        return try statement.step() ? statement.text(0) : nil
    }

    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// Maps an SQLite result code to the store's error codes.
    static func error(_ status: Int32, _ message: String, path: String, doing action: String) -> StoreError {
        let code: StoreError.Code =
            switch status & 0xff {
            case SQLITE_NOTADB: .notADatabase
            case SQLITE_CORRUPT: .corrupt
            case SQLITE_FULL: .full
            case SQLITE_READONLY: .readOnly
            case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH: .unavailable
            case SQLITE_IOERR: .unavailable
            default: .sqlite
            }
        return StoreError(code, "could not \(action): \(message)", path: path, sqliteCode: status)
    }
}

/// A prepared statement. Columns are 0-based, as in SQLite; parameters are named in the SQL
/// (`:reference`) and bound by name. A name the SQL does not have, a value SQLite refuses, or a
/// parameter left unbound is an error naming the statement — never a silently wrong row.
final class SQLiteStatement {
    private let pointer: OpaquePointer
    private unowned let connection: SQLiteConnection
    /// SQLite copies bound bytes when told to; our buffers do not outlive the call.
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
    private let parameterCount: Int32
    /// Which parameters have a value since the last reset, one bit each.
    private var bound: UInt64 = 0

    init(_ pointer: OpaquePointer, connection: SQLiteConnection) {
        self.pointer = pointer
        self.connection = connection
        parameterCount = sqlite3_bind_parameter_count(pointer)
        precondition(parameterCount <= 64, "a statement of Accord's has at most 64 parameters")
    }

    deinit { sqlite3_finalize(pointer) }

    func reset() {
        sqlite3_reset(pointer)
        sqlite3_clear_bindings(pointer)
        bound = 0
    }

    @discardableResult
    func bind(_ name: String, _ value: Int64) throws(StoreError) -> SQLiteStatement {
        let index = try parameter(name)
        return try checked(sqlite3_bind_int64(pointer, index, value), name, index)
    }

    @discardableResult
    func bind(_ name: String, optional value: Int64?) throws(StoreError) -> SQLiteStatement {
        guard let value else {
            let index = try parameter(name)
            return try checked(sqlite3_bind_null(pointer, index), name, index)
        }
        return try bind(name, value)
    }

    @discardableResult
    func bind(_ name: String, _ value: String?) throws(StoreError) -> SQLiteStatement {
        let index = try parameter(name)
        guard let value else { return try checked(sqlite3_bind_null(pointer, index), name, index) }
        return try checked(sqlite3_bind_text(pointer, index, value, -1, Self.transient), name, index)
    }

    @discardableResult
    func bind(_ name: String, _ value: [UInt8]?) throws(StoreError) -> SQLiteStatement {
        let index = try parameter(name)
        guard let value else { return try checked(sqlite3_bind_null(pointer, index), name, index) }
        let status = value.withUnsafeBytes { sqlite3_bind_blob(pointer, index, $0.baseAddress, Int32($0.count), Self.transient) }
        return try checked(status, name, index)
    }

    private var sql: String { String(cString: sqlite3_sql(pointer)) }

    private func parameter(_ name: String) throws(StoreError) -> Int32 {
        let index = sqlite3_bind_parameter_index(pointer, name)
        guard index > 0 else {
            throw StoreError(.sqlite, "the statement has no parameter \(name): \(sql.prefix(80))", path: connection.path)
        }
        return index
    }

    private func checked(_ status: Int32, _ name: String, _ index: Int32) throws(StoreError) -> SQLiteStatement {
        guard status == SQLITE_OK else {
            throw SQLiteConnection.error(status, connection.lastMessage, path: connection.path, doing: "bind \(name) of \(sql.prefix(60))")
        }
        bound |= 1 << UInt64(index - 1)
        return self
    }

    /// Advances to the next row; false when done.
    ///
    /// - Throws: `StoreError` if a parameter has no value (a missing `bind` would otherwise run
    ///   the statement with NULL), or SQLite fails.
    func step() throws(StoreError) -> Bool {
        let all: UInt64 = parameterCount == 64 ? .max : (1 << UInt64(parameterCount)) - 1
        guard bound == all else {
            throw StoreError(
                .sqlite, "\(parameterCount - Int32(bound.nonzeroBitCount)) parameter(s) left unbound: \(sql.prefix(80))", path: connection.path
            )
        }
        switch sqlite3_step(pointer) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let status:
            throw SQLiteConnection.error(
                status, connection.lastMessage, path: connection.path,
                doing: "run \(String(cString: sqlite3_sql(pointer)).prefix(60))"
            )
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws(StoreError) {
        while try step() {}
    }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(pointer, column) }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(pointer, column) == SQLITE_NULL }

    func text(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(pointer, column) else { return "" }
        return String(cString: text)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(pointer, column))
        guard count > 0, let bytes = sqlite3_column_blob(pointer, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
}
