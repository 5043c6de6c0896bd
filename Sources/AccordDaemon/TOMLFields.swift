import TOMLKit

/// Typed, strict reads of one TOML table: every error names the field's dotted path, and
/// `finish()` refuses keys nobody read, so a misspelt option is an error instead of a default.
struct TOMLFields {
    let table: TOMLTable
    let path: String
    let file: String
    private var read: Set<String> = []
    /// Every option name of the configuration, so a missing one can point at a misspelling.
    static let allKnown: Set<String> = [
        "node", "listen", "tls", "admin", "sync", "peers", "organisation", "name", "data_directory", "durability", "address",
        "certificate", "private_key", "ca", "crl", "socket", "socket_mode", "reconcile_interval_seconds", "keepalive_seconds",
        "idle_timeout_seconds", "max_clock_skew_seconds", "console", "metrics", "url", "oidc", "issuer", "client_id",
        "client_secret_file", "scopes", "groups_claim", "roles", "people", "share", "approvals", "require_passkey", "ca_file",
    ]

    init(_ table: TOMLTable, path: String, file: String) {
        self.table = table
        self.path = path
        self.file = file
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String?, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, field: key.map(name) ?? (path.isEmpty ? nil : path), message)
    }

    private mutating func value(_ key: String) -> (any TOMLValueConvertible)? {
        read.insert(key)
        return table[key]
    }

    mutating func string(_ key: String) throws(ConfigurationError) -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value.string else { throw error(key, "expected a string, found \(value.type)") }
        return string
    }

    mutating func requiredString(_ key: String) throws(ConfigurationError) -> String {
        guard let string = try string(key) else {
            let unknown = table.keys.sorted().filter { !read.contains($0) && !Self.allKnown.contains($0) }
            let hint = unknown.isEmpty ? "" : " (\(name(unknown[0])) is not an option: misspelt?)"
            throw error(key, "is required\(hint)")
        }
        guard !string.isEmpty else { throw error(key, "must not be empty") }
        return string
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let value = value(key) else { return nil }
        guard let integer = value.int else { throw error(key, "expected an integer, found \(value.type)") }
        guard range.contains(integer) else { throw error(key, "\(integer) is out of range \(range.lowerBound)…\(range.upperBound)") }
        return integer
    }

    mutating func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let bool = value.bool else { throw error(key, "expected true or false, found \(value.type)") }
        return bool
    }

    /// An array of strings.
    mutating func strings(_ key: String) throws(ConfigurationError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard let array = value.array else { throw error(key, "expected an array of strings, found \(value.type)") }
        return try array.enumerated().map { (index, element) throws(ConfigurationError) in
            guard let string = element.string else { throw error("\(key)[\(index)]", "expected a string, found \(element.type)") }
            return string
        }
    }

    /// The table's keys, each to be read by the caller.
    var keys: [String] { table.keys.sorted() }

    /// A string, or an array of strings, under `key`.
    mutating func stringOrStrings(_ key: String) throws(ConfigurationError) -> [String] {
        guard let value = table[key] else { return [] }
        if value.string != nil { return [try string(key)!] }
        return try strings(key) ?? []
    }

    mutating func table(_ key: String) throws(ConfigurationError) -> TOMLFields? {
        guard let value = value(key) else { return nil }
        guard let table = value.table else { throw error(key, "expected a table ([\(name(key))]), found \(value.type)") }
        return TOMLFields(table, path: name(key), file: file)
    }

    mutating func tables(_ key: String) throws(ConfigurationError) -> [TOMLFields] {
        guard let value = value(key) else { return [] }
        guard let array = value.array else { throw error(key, "expected an array of tables ([[\(name(key))]]), found \(value.type)") }
        var tables: [TOMLFields] = []
        for (index, element) in array.enumerated() {
            guard let table = element.table else { throw error("\(key)[\(index)]", "expected a table, found \(element.type)") }
            tables.append(TOMLFields(table, path: "\(name(key))[\(index)]", file: file))
        }
        return tables
    }

    /// Fails on the first key that no read asked for.
    func finish() throws(ConfigurationError) {
        if let unknown = table.keys.sorted().first(where: { !read.contains($0) }) {
            throw error(unknown, "unknown option (check its spelling and section; see the configuration reference in README.md)")
        }
    }
}
