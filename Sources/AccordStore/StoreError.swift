/// A failure of the node store, naming the database file and, for SQLite failures, SQLite's
/// result code and message, so an operator can tell a full disk from a foreign file.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The file exists but is not an SQLite database (or its header is damaged).
        public static let notADatabase = Code("not-a-database")
        /// The database was written by a newer Accord whose schema this version does not know.
        public static let newerSchema = Code("newer-schema")
        /// SQLite found the file damaged.
        public static let corrupt = Code("corrupt")
        /// Another process already holds the data directory.
        public static let locked = Code("locked")
        /// The disk (or the configured size limit) is full; nothing of the failed write remains.
        public static let full = Code("full")
        /// The data directory or database cannot be written.
        public static let readOnly = Code("read-only")
        /// The directory or file cannot be created, opened or read.
        public static let unavailable = Code("unavailable")
        /// The log does not replay to a valid history, or a stored row cannot be decoded.
        public static let inconsistent = Code("inconsistent")
        /// A backup's or a restore's target exists already; nothing was overwritten.
        public static let exists = Code("exists")
        /// The store was closed.
        public static let closed = Code("closed")
        /// Any other SQLite failure.
        public static let sqlite = Code("sqlite")

        public var description: String { name }
    }

    public let code: Code
    public let message: String
    /// The database file or data directory concerned.
    public let path: String
    /// SQLite's extended result code, when SQLite reported the failure.
    public let sqliteCode: Int32?

    public init(_ code: Code, _ message: String, path: String, sqliteCode: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.sqliteCode = sqliteCode
    }

    public var description: String {
        "\(path): \(message)" + (sqliteCode.map { " (SQLite code \($0))" } ?? "")
    }
}
