public import AccordModel
public import AccordStore
public import AccordSync
import AccordTLS
import Foundation
import TOMLKit

/// Everything `accordd` needs to run one node, read from a TOML file (README.md, "Configuration").
///
/// Relative paths are taken from the configuration file's directory, so a node's folder can be
/// moved as a whole (the local cluster relies on it).
public struct DaemonConfiguration: Sendable {
    public var file: String
    public var node: NodeID
    public var dataDirectory: String
    public var listenHost: String
    public var listenPort: Int
    public var certificate: String
    public var privateKey: String
    public var certificateAuthority: String
    public var revocationList: String?
    public var adminSocket: String
    /// Permission bits of the admin socket; 0600 unless the file says otherwise.
    public var adminSocketMode: Int
    public var peers: [PeerEndpoint]
    public var reconcileInterval: Duration
    public var keepaliveInterval: Duration
    public var idleTimeout: Duration
    public var maximumClockSkew: Duration
    public var durability: StoreConfiguration.Durability
    /// Where the web console listens (`[console] address`); nil: no console.
    public var console: ListenAddress? = nil
    /// Where Prometheus scrapes `/metrics` over TCP (`[metrics] address`); nil: only the admin
    /// socket serves them.
    public var metrics: ListenAddress? = nil
    /// `[console.oidc]`: sign-in through the organisation's identity provider; nil: one-time
    /// tokens only.
    public var signIn: SignInConfiguration? = nil
    /// The console's origin as browsers reach it (`[console] url`).
    public var consoleURL: String? = nil
    /// What partners learn of the people who act through this node (`[people] share`).
    public var peopleSharing: PersonSharing = .name
    /// `[approvals] require_passkey`: this organisation's approvals carry the approver's own
    /// passkey signature (`PasskeySignature`); an approval without one is refused here.
    public var requirePasskey = false

    /// Reads and checks `file`; every problem names the field.
    public static func load(file: String) throws(ConfigurationError) -> DaemonConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            let data = FileManager.default.contents(atPath: file)
            let reason = data != nil && String(data: data!, encoding: .utf8) == nil ? "it is not UTF-8 text" : Self.reason(error)
            throw ConfigurationError(file: file, field: nil, "cannot be read (\(reason))")
        }
        var configuration = try parse(text, file: file)
        try configuration.checkFiles()
        return configuration
    }

    /// Parses TOML text without touching the files it names.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> DaemonConfiguration {
        try TOMLParserTraps.check(text, file: file)
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(
                file: file, field: nil,
                "is not valid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)"
            )
        } catch {
            throw ConfigurationError(file: file, field: nil, "is not valid TOML: \(error)")
        }
        let base = URL(fileURLWithPath: file).deletingLastPathComponent()
        func path(_ value: String) -> String {
            value.hasPrefix("/") ? value : base.appendingPathComponent(value).standardizedFileURL.path
        }

        var top = TOMLFields(root, path: "", file: file)
        guard var nodeTable = try top.table("node") else { throw top.error("node", "is required ([node] with organisation, name, data_directory)") }
        let organisationName = try nodeTable.requiredString("organisation")
        guard let organisation = OrganisationID(rawValue: organisationName) else {
            throw nodeTable.error("organisation", "\"\(organisationName)\" is not an organisation id (1–\(OrganisationID.maximumBytes) bytes, no control characters)")
        }
        let nodeName = try nodeTable.requiredString("name")
        guard let node = NodeID(organisation: organisation, name: nodeName) else {
            throw nodeTable.error("name", "\"\(nodeName)\" is not a node name (1–\(NodeID.maximumNameBytes) bytes, no control characters)")
        }
        let dataDirectory = path(try nodeTable.requiredString("data_directory"))
        let durabilityName = try nodeTable.string("durability") ?? "full"
        let durability: StoreConfiguration.Durability
        switch durabilityName {
        case "full": durability = .full
        case "process-crash-safe": durability = .processCrashSafe
        default: throw nodeTable.error("durability", "\"\(durabilityName)\" is not one of full, process-crash-safe")
        }
        try nodeTable.finish()

        guard var listenTable = try top.table("listen") else { throw top.error("listen", "is required ([listen] with address = \"HOST:PORT\")") }
        let (listenHost, listenPort) = try Self.address(try listenTable.requiredString("address"), field: "address", in: listenTable)
        try listenTable.finish()

        guard var tlsTable = try top.table("tls") else { throw top.error("tls", "is required ([tls] with certificate, private_key, ca)") }
        let certificate = path(try tlsTable.requiredString("certificate"))
        let privateKey = path(try tlsTable.requiredString("private_key"))
        let certificateAuthority = path(try tlsTable.requiredString("ca"))
        let revocationList = try tlsTable.string("crl").map(path)
        try tlsTable.finish()

        guard var adminTable = try top.table("admin") else { throw top.error("admin", "is required ([admin] with socket = PATH)") }
        let adminSocket = path(try adminTable.requiredString("socket"))
        let modeText = try adminTable.string("socket_mode") ?? "0600"
        guard let mode = Int(modeText, radix: 8), (0...0o777).contains(mode), mode & 0o007 == 0 else {
            throw adminTable.error("socket_mode", "\"\(modeText)\" must be octal permission bits with nothing for others, such as \"0600\" or \"0660\"")
        }
        try adminTable.finish()

        var sync = SyncConfiguration(node: node, listenPort: 0, peers: [], clock: { 0 })
        var maximumClockSkew = Duration.milliseconds(Int64(ReplicaConfiguration().maximumClockSkewMillis))
        if var syncTable = try top.table("sync") {
            func seconds(_ key: String, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Duration? {
                try syncTable.integer(key, in: range).map { .seconds($0) }
            }
            sync.reconcileInterval = try seconds("reconcile_interval_seconds", 5...86_400) ?? sync.reconcileInterval
            sync.keepaliveInterval = try seconds("keepalive_seconds", 1...3_600) ?? sync.keepaliveInterval
            sync.idleTimeout = try seconds("idle_timeout_seconds", 2...86_400) ?? sync.idleTimeout
            maximumClockSkew = try seconds("max_clock_skew_seconds", 1...86_400) ?? maximumClockSkew
            guard sync.idleTimeout > sync.keepaliveInterval else {
                throw syncTable.error("idle_timeout_seconds", "must be longer than keepalive_seconds, or healthy sessions time out")
            }
            try syncTable.finish()
        }

        /// `[console]` and `[metrics]`: a table with one `address`.
        func listenAddress(_ name: String) throws(ConfigurationError) -> ListenAddress? {
            guard var table = try top.table(name) else { return nil }
            let (host, port) = try Self.address(try table.requiredString("address"), field: "address", in: table)
            try table.finish()
            return ListenAddress(host: host, port: port)
        }
        var console: ListenAddress?
        var consoleURL: String?
        var signIn: SignInConfiguration?
        if var consoleTable = try top.table("console") {
            let (host, port) = try Self.address(try consoleTable.requiredString("address"), field: "address", in: consoleTable)
            let address = ListenAddress(host: host, port: port)
            let url = try consoleTable.string("url") ?? address.defaultURL
            guard let components = URLComponents(string: url), components.scheme == "http" || components.scheme == "https",
                let urlHost = components.host, !urlHost.isEmpty, components.path.isEmpty, components.query == nil
            else {
                throw consoleTable.error("url", "\"\(url)\" is not the console's origin, such as \"http://localhost:7601\" (no path)")
            }
            console = address
            consoleURL = url
            if var oidcTable = try consoleTable.table("oidc") {
                signIn = try SignInConfiguration.parse(&oidcTable, consoleURL: url, path: path)
            }
            try consoleTable.finish()
        }
        let metrics = try listenAddress("metrics")
        var peopleSharing = PersonSharing.name
        if var peopleTable = try top.table("people") {
            if let share = try peopleTable.string("share") {
                guard let sharing = PersonSharing(rawValue: share) else {
                    throw peopleTable.error("share", "\"\(share)\" is not one of \(PersonSharing.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))")
                }
                peopleSharing = sharing
            }
            try peopleTable.finish()
        }
        var requirePasskey = false
        if var approvalsTable = try top.table("approvals") {
            requirePasskey = try approvalsTable.bool("require_passkey") ?? false
            if requirePasskey {
                guard let consoleURL, let host = URLComponents(string: consoleURL)?.host, Self.isDomainName(host) else {
                    throw approvalsTable.error(
                        "require_passkey", "passkeys are made in the web console at a host name (not an IP address): set [console] address and url"
                    )
                }
            }
            try approvalsTable.finish()
        }

        var peers: [PeerEndpoint] = []
        for var peerTable in try top.tables("peers") {
            let name = try peerTable.requiredString("organisation")
            guard let peerOrganisation = OrganisationID(rawValue: name) else {
                throw peerTable.error("organisation", "\"\(name)\" is not an organisation id")
            }
            let (host, port) = try Self.address(try peerTable.requiredString("address"), field: "address", in: peerTable)
            try peerTable.finish()
            peers.append(PeerEndpoint(organisation: peerOrganisation, host: host, port: port))
        }
        try top.finish()

        return DaemonConfiguration(
            file: file, node: node, dataDirectory: dataDirectory, listenHost: listenHost, listenPort: listenPort,
            certificate: certificate, privateKey: privateKey, certificateAuthority: certificateAuthority,
            revocationList: revocationList, adminSocket: adminSocket, adminSocketMode: mode, peers: peers,
            reconcileInterval: sync.reconcileInterval, keepaliveInterval: sync.keepaliveInterval, idleTimeout: sync.idleTimeout,
            maximumClockSkew: maximumClockSkew, durability: durability, console: console, metrics: metrics, signIn: signIn,
            consoleURL: consoleURL, peopleSharing: peopleSharing, requirePasskey: requirePasskey
        )
    }

    /// Whether `host` can be a WebAuthn relying party id: a domain name, not an IP address.
    static func isDomainName(_ host: String) -> Bool {
        !host.isEmpty && !host.contains(":") && host.contains(where: \.isLetter) && host.last != "."
            && !host.split(separator: ".").allSatisfy { $0.allSatisfy(\.isNumber) }
    }

    /// `HOST:PORT` or `[IPv6]:PORT`.
    private static func address(_ text: String, field: String, in table: TOMLFields) throws(ConfigurationError) -> (String, Int) {
        let problem = "\"\(text)\" is not HOST:PORT (for example \"127.0.0.1:7401\" or \"[::1]:7401\")"
        guard let colon = text.lastIndex(of: ":") else { throw table.error(field, problem) }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw table.error(field, problem)
        }
        return (host, port)
    }

    /// The files the node reads at start must exist and be readable now, so that a typo is a
    /// configuration error naming its field rather than a TLS failure later.
    private mutating func checkFiles() throws(ConfigurationError) {
        var files = [("tls.certificate", certificate), ("tls.private_key", privateKey), ("tls.ca", certificateAuthority)]
        if let revocationList { files.append(("tls.crl", revocationList)) }
        if let roots = signIn?.trustRootsFile { files.append(("console.oidc.ca_file", roots)) }
        for (field, path) in files where access(path, R_OK) != 0 {
            let reason = String(cString: strerror(errno))
            throw ConfigurationError(file: file, field: field, "\(path): \(reason)")
        }
        _ = try signIn?.clientSecret(configurationFile: file)
    }

    private static func reason(_ error: any Error) -> String {
        (error as NSError).localizedFailureReason ?? (error as NSError).localizedDescription
    }

    /// The fields of `other` that differ from these and that a running node cannot take: its
    /// identity and data, the sockets it holds, and the timers its sessions were started with.
    /// A reload that changes any of them is refused by name (restart to apply them).
    public func fieldsNeedingRestart(toBecome other: DaemonConfiguration) -> [String] {
        var fields: [String] = []
        if node.organisation != other.node.organisation { fields.append("node.organisation") }
        if node.name != other.node.name { fields.append("node.name") }
        if dataDirectory != other.dataDirectory { fields.append("node.data_directory") }
        if durability != other.durability { fields.append("node.durability") }
        if listenHost != other.listenHost || listenPort != other.listenPort { fields.append("listen.address") }
        if adminSocket != other.adminSocket { fields.append("admin.socket") }
        if adminSocketMode != other.adminSocketMode { fields.append("admin.socket_mode") }
        if reconcileInterval != other.reconcileInterval { fields.append("sync.reconcile_interval_seconds") }
        if keepaliveInterval != other.keepaliveInterval { fields.append("sync.keepalive_seconds") }
        if idleTimeout != other.idleTimeout { fields.append("sync.idle_timeout_seconds") }
        if maximumClockSkew != other.maximumClockSkew { fields.append("sync.max_clock_skew_seconds") }
        if console != other.console { fields.append("console.address") }
        if consoleURL != other.consoleURL { fields.append("console.url") }
        if signIn != other.signIn { fields.append("console.oidc") }
        if peopleSharing != other.peopleSharing { fields.append("people.share") }
        if requirePasskey != other.requirePasskey { fields.append("approvals.require_passkey") }
        if metrics != other.metrics { fields.append("metrics.address") }
        return fields
    }

    /// The node's credentials, read from the files `[tls]` names and checked together.
    public func credentials() throws(NodeCredentials.Failure) -> NodeCredentials {
        try NodeCredentials(
            node: node, certificate: certificate, privateKey: privateKey,
            certificateAuthority: certificateAuthority, revocationList: revocationList
        )
    }

    /// Runs every check start and reload make of the files the configuration names (`accordd
    /// --check-config`): the same failures, in the same words. Returns what `status` would warn
    /// of: a certificate or revocation list that expires soon.
    public func checkCredentials() throws(NodeCredentials.Failure) -> [String] {
        let credentials = try credentials()
        return CertificateLifetimes(
            own: node, certificate: credentials.tls.certificate, revocations: credentials.revocations, revocationListFile: revocationList
        ).warnings
    }

    /// The sync settings for this node.
    public func syncConfiguration(clock: @escaping @Sendable () -> UInt64) -> SyncConfiguration {
        var sync = SyncConfiguration(node: node, listenHost: listenHost, listenPort: listenPort, peers: peers, clock: clock)
        sync.reconcileInterval = reconcileInterval
        sync.keepaliveInterval = keepaliveInterval
        sync.idleTimeout = idleTimeout
        // A peer that reads nothing is as dead as one that says nothing.
        sync.writeStallTimeout = idleTimeout
        return sync
    }

    /// The store settings for this node.
    public var storeConfiguration: StoreConfiguration {
        StoreConfiguration(
            directory: dataDirectory, node: node,
            replica: ReplicaConfiguration(maximumClockSkewMillis: UInt64(maximumClockSkew.components.seconds) * 1000),
            durability: durability
        )
    }
}

/// A TCP address one of the node's HTTP listeners (the console, the metrics) listens on.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The console's URL when `[console] url` names none: `localhost` for a loopback address, the
    /// name passkeys and identity providers accept for a console on this machine.
    var defaultURL: String {
        let isLoopback = host == "127.0.0.1" || host == "::1" || host == "localhost"
        return "http://\(isLoopback ? "localhost:\(port)" : description)"
    }

    /// `Host` header values a browser sends for this address.
    var hostHeaders: Set<String> {
        var names: Set<String> = ["\(host):\(port)".lowercased()]
        if host == "127.0.0.1" || host == "::1" || host == "localhost" { names.formUnion(["localhost:\(port)", "127.0.0.1:\(port)", "[::1]:\(port)"]) }
        return names
    }
}
