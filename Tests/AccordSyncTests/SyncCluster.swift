import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import AccordTestSupport
import AccordTLS
import Foundation
import Logging
import NIOCore
import NIOConcurrencyHelpers

/// Log lines of one node, kept in memory so tests can read what it logged.
final class LogCapture: Sendable {
    let lines = NIOLockedValueBox<[String]>([])

    struct Handler: LogHandler {
        let capture: LogCapture
        let label: String
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let time = String(format: "%.3f", Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 1000))
            let text = "\(time) \(event.level) \(label): \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
            capture.lines.withLockedValue { $0.append(text) }
        }
    }

    func logger(_ label: String) -> Logger { Logger(label: label) { _ in Handler(capture: self, label: label) } }
    var text: String { lines.withLockedValue { $0.joined(separator: "\n") } }
}

/// A node of a test network: its own data directory and SQLite file, real TLS with the example
/// certificates, a real listening socket on 127.0.0.1. `@unchecked Sendable`: a test drives its
/// nodes from its own task only; the node's sync runs on the `SyncNode`, which is Sendable.
final class ClusterNode: @unchecked Sendable {
    static let certificates = TestCertificates.examples

    let name: String
    let id: NodeID
    let directory: String
    let credentials: NodeCredentials
    var signer: ChangeSigner { credentials.signer }
    let logs = LogCapture()
    let port: Int
    private(set) var store: NodeStore!
    private(set) var sync: SyncNode!
    private var task: Task<Void, any Error>?
    var peers: [PeerEndpoint]

    init(_ certificate: String, port: Int, peers: [PeerEndpoint] = [], directory: String? = nil) throws {
        name = certificate
        credentials = try NodeCredentials(certificate, in: Self.certificates)
        id = credentials.node
        self.directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("accord-sync-\(UUID())").path
        self.port = port
        self.peers = peers
    }

    static func clock() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    /// Opens the store and starts syncing; returns once the node listens.
    func start(configure: (inout SyncConfiguration) -> Void = { _ in }) async throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = try NodeStore(configuration: StoreConfiguration(directory: directory, node: id))
        var configuration = SyncConfiguration(node: id, listenPort: port, peers: peers, clock: Self.clock)
        configuration.keepaliveInterval = .milliseconds(500)
        configuration.idleTimeout = .seconds(5)
        configuration.writeStallTimeout = .seconds(5)
        configuration.reconnectBackoff = .milliseconds(50) ... .milliseconds(500)
        configure(&configuration)
        let sync = try await SyncNode.assemble(credentials: credentials, configuration: configuration, store: store, logger: logs.logger(name))
        self.sync = sync
        let task = Task { try await sync.run() }
        self.task = task
        do {
            _ = try await sync.waitUntilListening()
        } catch {
            // `run` ended before it listened: its error says why.
            task.cancel()
            var reason = "\(error)"
            do { try await task.value } catch let failure { reason = "\(failure)" }
            throw ClusterStartFailure(node: name, reason: reason)
        }
    }

    /// Opens the store without syncing (a node cut off from its peers).
    func startStoreOnly() async throws {
        store = try NodeStore(configuration: StoreConfiguration(directory: directory, node: id))
    }

    /// Stops syncing (sessions closed with close_notify) and closes the store.
    func stop() async {
        task?.cancel()
        _ = try? await task?.value
        task = nil
        await store?.close()
    }

    /// An endpoint for an organisation with no node behind it (its dials fail, which is fine):
    /// it makes the node accept that organisation's connections.
    static func placeholder(for organisation: OrganisationID, port: Int) -> PeerEndpoint {
        PeerEndpoint(organisation: organisation, host: "127.0.0.1", port: port)
    }

    var endpoint: PeerEndpoint { PeerEndpoint(organisation: id.organisation, host: "127.0.0.1", port: port) }

    func create(_ edits: [Edit]) async throws -> AgreementID {
        try await store.author(nil, edits, signer: signer, nowMillis: Self.clock()).agreement
    }

    func edit(_ agreement: AgreementID, _ edits: [Edit], actor: ActingPerson? = nil) async throws {
        _ = try await store.author(agreement, edits, signer: signer, actor: actor, nowMillis: Self.clock())
    }

    func headsDigest(_ agreement: AgreementID) async throws -> SHA256Digest? {
        guard let detail = try await store.agreement(agreement) else { return nil }
        return SHA256Digest(hashing: detail.heads.flatMap(\.bytes))
    }

    /// The bytes of the database and its WAL, for need-to-know checks.
    func databaseBytes() throws -> [UInt8] {
        var bytes: [UInt8] = []
        for file in ["accord.sqlite", "accord.sqlite-wal"] {
            if let data = FileManager.default.contents(atPath: "\(directory)/\(file)") { bytes += data }
        }
        return bytes
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

struct ClusterStartFailure: Error, CustomStringConvertible {
    let node: String
    let reason: String
    var description: String { "\(node) did not start listening: \(reason)" }
}
