import AccordRefusals
import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import AccordTLS
import Foundation
import Hummingbird
public import Logging
public import ServiceLifecycle
import NIOCore
import UnixSignals

/// Why `accordd` could not start, and the exit status it leaves with (sysexits.h), so that
/// systemd and scripts can tell a bad configuration from a broken disk.
public struct StartupError: Error, CustomStringConvertible {
    public static let configuration: Int32 = 78  // EX_CONFIG
    public static let dataDirectory: Int32 = 73  // EX_CANTCREAT
    public static let unavailable: Int32 = 69  // EX_UNAVAILABLE
    /// The listen address (or the console's) is taken by another process: often a node still
    /// stopping, so worth a retry (EX_TEMPFAIL).
    public static let addressInUse: Int32 = 75

    public let exitCode: Int32
    public let message: String

    public var description: String { message }
}

/// One node, opened and ready to run: its store, its sync (listening), its admin API and console,
/// and the watchers around them, as the services of a `ServiceGroup` (`services`). They start in
/// the order of that list, each once the one before is up, and a graceful shutdown (SIGTERM,
/// SIGINT) stops them in reverse: first the watchers, then the listeners (requests in flight
/// finish), then sync (sessions end with close_notify), and the store last.
public final class Daemon: Sendable {
    public let configuration: DaemonConfiguration
    private let store: NodeStore
    private let sync: SyncNode
    private let adminListener: HTTPListener
    private let consoleListener: HTTPListener?
    /// `GET /metrics` alone on TCP, for Prometheus (`[metrics] address`).
    private let metricsListener: HTTPListener?
    let administration: NodeAdministration
    private let reloader: ConfigurationReloader
    private let certificateWarnings: CertificateWarningLog
    private let deadlineWatch: DeadlineWatch
    /// Keeps the event stream fed from the store and the sessions.
    private let eventFeed: NodeEventFeed
    /// The one refusal log of the process: sync, admin API, console and event stream log their
    /// refusals through it, and a service flushes its summaries.
    private let refusals: RefusalLog
    private let logger: Logger

    /// Connections each listener serves at once.
    static let maximumAdminConnections = 32
    static let maximumConsoleConnections = 64
    /// A Prometheus server needs one; a few more let an operator's curl in beside it.
    static let maximumMetricsConnections = 8
    /// The TCP listeners' (console, metrics) deadline for a whole request (slowloris) and
    /// keep-alive.
    static let tcpRequestDeadlines: (request: TimeAmount, keepAlive: TimeAmount) = (.seconds(10), .seconds(60))

    /// Opens everything the node needs, in order, and closes what it opened if a later step
    /// fails; each failure names what to fix. The listen address is bound here and the admin
    /// socket checked, so that a taken one is an error before the node says it has started.
    /// - Parameter clock: the node's wall clock in Unix milliseconds (`NodeClock`).
    public init(
        configuration: DaemonConfiguration, logger: Logger, clock: @escaping @Sendable () -> UInt64 = NodeClock.system
    ) async throws(StartupError) {
        self.configuration = configuration
        self.logger = logger
        let file = configuration.file
        let refusals = RefusalLog(logger: logger)
        self.refusals = refusals

        let credentials: NodeCredentials
        do {
            credentials = try configuration.credentials()
        } catch {
            throw StartupError(exitCode: StartupError.configuration, message: "\(file): \(error)")
        }
        let store = try Self.openStore(configuration)
        self.store = store
        /// Everything opened so far is closed before a failure is reported.
        var opened: [@Sendable () async -> Void] = [{ await store.close() }]
        func failure(_ code: Int32, _ message: String) async -> StartupError {
            for close in opened.reversed() { await close() }
            return StartupError(exitCode: code, message: "\(file): \(message)")
        }
        let sync: SyncNode
        do {
            sync = try await SyncNode.assemble(
                credentials: credentials, configuration: configuration.syncConfiguration(clock: clock), store: store, logger: logger,
                refusals: refusals
            )
        } catch {
            throw await failure(StartupError.configuration, "tls.certificate: not usable with tls.ca: \(error)")
        }
        do {
            try await sync.bind()
            opened.append { await sync.closeUnusedListener() }
        } catch let error as SyncNode.BindFailure {
            throw await failure(error.inUse ? StartupError.addressInUse : StartupError.unavailable, "listen.address: \(error)")
        } catch {
            throw await failure(StartupError.unavailable, "listen.address: \(error)")
        }
        let adminSocket: AdminSocket
        do {
            adminSocket = try AdminSocket(path: configuration.adminSocket, mode: configuration.adminSocketMode)
        } catch {
            throw await failure(StartupError.unavailable, "admin.socket: \(error)")
        }
        self.sync = sync
        let live = LiveConfiguration(.init(configuration: configuration, credentials: credentials))
        reloader = ConfigurationReloader(live: live, sync: sync, logger: logger)
        let events = EventHub(run: clock(), refusals: refusals)
        eventFeed = NodeEventFeed(hub: events, store: store, sync: sync, clock: clock)
        let authority = configuration.console.map { _ in ConsoleAuthority() }
        var naming = ActorNaming(sharing: configuration.peopleSharing, issuer: configuration.signIn?.issuer, pseudonymKey: nil)
        if configuration.peopleSharing == .pseudonym {
            do {
                naming = ActorNaming(sharing: .pseudonym, issuer: configuration.signIn?.issuer, pseudonymKey: try await store.pseudonymKey())
            } catch {
                throw await failure(StartupError.unavailable, "people.share: \(error)")
            }
        }
        let administration = NodeAdministration(
            live: live, store: store, sync: sync, reloader: reloader, events: events, console: authority, refusals: refusals, naming: naming,
            clock: clock
        )
        self.administration = administration
        deadlineWatch = DeadlineWatch(administration: administration, events: events)
        adminListener = HTTPListener(
            responder: AdminRoutes(administration: administration).router().buildResponder(), address: .unixSocket(adminSocket),
            connections: ConnectionCount(limit: Self.maximumAdminConnections, reason: "too-many-admin-connections", refusals: refusals),
            requestDeadlines: nil, logger: logger
        )
        var provider: IdentityProvider?
        if let signIn = configuration.signIn {
            do {
                let secure = signIn.issuer.hasPrefix("https:")
                let client = ProviderHTTPClient(tls: secure ? try WebTLSContext(trustRootsPath: signIn.trustRootsFile) : nil)
                provider = IdentityProvider(
                    configuration: signIn, clientSecret: try signIn.clientSecret(configurationFile: configuration.file), client: client, logger: logger
                )
            } catch {
                throw await failure(StartupError.unavailable, "\(error)")
            }
        }
        consoleListener = configuration.console.flatMap { address in
            authority.map { authority in
                HTTPListener(
                    responder: ConsoleRoutes(
                        administration: administration, authority: authority, events: events, address: address, url: configuration.consoleURL,
                        provider: provider, refusals: refusals, logger: logger
                    ).router().buildResponder(),
                    address: .tcp(host: address.host, port: address.port, field: "console.address"),
                    connections: ConnectionCount(limit: Self.maximumConsoleConnections, reason: "too-many-console-connections", refusals: refusals),
                    requestDeadlines: Self.tcpRequestDeadlines, logger: logger
                )
            }
        }
        metricsListener = configuration.metrics.map { address in
            HTTPListener(
                responder: MetricsRoutes(administration: administration).router().buildResponder(),
                address: .tcp(host: address.host, port: address.port, field: "metrics.address"),
                connections: ConnectionCount(limit: Self.maximumMetricsConnections, reason: "too-many-metrics-connections", refusals: refusals),
                requestDeadlines: Self.tcpRequestDeadlines, logger: logger
            )
        }
        certificateWarnings = CertificateWarningLog(logger: logger)
    }

    /// The listeners' responders, for in-process HTTP tests.
    var adminResponder: RouterResponder<AccordRequestContext> { adminListener.responder }
    var consoleResponder: RouterResponder<AccordRequestContext>? { consoleListener?.responder }
    var metricsResponder: RouterResponder<AccordRequestContext>? { metricsListener?.responder }

    /// Closes what `init` opened, for a daemon whose services never ran (in-process tests).
    func closeUnstarted() async {
        await sync.closeUnusedListener()
        if case .unixSocket(let socket) = adminListener.address { socket.remove() }
        await store.close()
    }

    private static func openStore(_ configuration: DaemonConfiguration) throws(StartupError) -> NodeStore {
        let (file, dataDirectory) = (configuration.file, configuration.dataDirectory)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: dataDirectory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw StartupError(exitCode: StartupError.dataDirectory, message: "\(file): node.data_directory: \(dataDirectory) is not a directory")
        }
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StartupError(exitCode: StartupError.dataDirectory, message: "\(file): node.data_directory: cannot create \(dataDirectory): \(describe(error))")
        }
        do {
            return try NodeStore(configuration: configuration.storeConfiguration)
        } catch {
            // A store error names the path already.
            throw StartupError(exitCode: StartupError.dataDirectory, message: "\(file): node.data_directory: \(error)")
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? CocoaError, let underlying = error.userInfo[NSUnderlyingErrorKey] as? POSIXError {
            return String(cString: strerror(underlying.code.rawValue))
        }
        return "\(error)"
    }

    /// The node's services, in the order they start; run them in one `ServiceGroup`. A service
    /// that ends on its own or fails stops the others gracefully.
    public var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        typealias Body = @Sendable (_ started: @escaping @Sendable () -> Void) async throws -> Void
        let sequence = StartupSequence()
        var parts: [(String, Body)] = [
            ("store", { [store] started in
                started()
                // Closed last: after everything that reads or writes it has stopped (or, on a
                // cancellation, been cancelled).
                try? await gracefulShutdown()
                await store.close()
            }),
            ("refusal-summaries", { [refusals] started in
                started()
                try await cancelWhenGracefulShutdown { try await refusals.run() }
            }),
            ("sync", { [sync] started in
                started()  // its listener is bound already
                try await cancelWhenGracefulShutdown { try await sync.run() }
            }),
            ("admin-api", { [adminListener] started in try await adminListener.run(started: started) }),
        ]
        if let consoleListener {
            parts.append(("console", { started in try await consoleListener.run(started: started) }))
        }
        if let metricsListener {
            parts.append(("metrics", { started in try await metricsListener.run(started: started) }))
        }
        let watchers: [(String, Body)] = [
            ("reload-on-hangup", { [reloader] started in
                started()
                await cancelWhenGracefulShutdown {
                    for await _ in await UnixSignalsSequence(trapping: .sighup) { _ = try? await reloader.reload(trigger: "SIGHUP") }
                }
            }),
            ("certificate-watch", { started in
                started()
                try await cancelWhenGracefulShutdown { try await self.watchCertificates() }
            }),
            ("deadline-watch", { [deadlineWatch] started in
                started()
                try await cancelWhenGracefulShutdown { try await deadlineWatch.run() }
            }),
            ("memory-return", { started in
                started()
                try await cancelWhenGracefulShutdown { try await Self.returnFreedMemory() }
            }),
            ("announcement", { started in
                started()
                self.announce()
                try await gracefulShutdown()
                self.logger.info("accordd stopping", metadata: ["node": "\(self.configuration.node)"])
            }),
        ]
        parts += watchers
        return parts.enumerated().map { position, part in
            ServiceGroupConfiguration.ServiceConfiguration(
                service: NodeService(description: part.0, position: position, sequence: sequence, logger: logger, body: part.1),
                successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup
            )
        }
    }

    private func announce() {
        if !ProcessMemory.configureAllocator() {
            logger.notice("the C library does not take allocator settings; memory use may stay near its peak")
        }
        logger.info("accordd started", metadata: [
            "node": "\(configuration.node)", "admin": "\(configuration.adminSocket)",
            "console": "\(configuration.console.map { "http://\($0)/" } ?? "off")",
            "metrics": "\(configuration.metrics.map { "http://\($0)/metrics" } ?? "admin socket only")",
            "peers": "\(configuration.peers.map(\.description).joined(separator: ", "))",
        ])
    }

    /// Warns in the log about certificates that expire within a month and revocation lists that
    /// expire within a week (once a day each), checking every hour and at the moment a revocation
    /// list expires: the log is where an unattended node's operator looks.
    private func watchCertificates() async throws {
        while true {
            let peers = try await administration.peerStatuses()
            let lifetimes = administration.certificateLifetimes(peers: peers)
            await certificateWarnings.log(lifetimes.warnings)
            let untilExpiry = lifetimes.nextRevocationListExpiry.map { max(1, $0.timeIntervalSinceNow + 1) } ?? 3600
            try await Task.sleep(for: .seconds(min(3600, untilExpiry)))
        }
    }

    /// Gives freed memory back every 10 s (`ProcessMemory`), off every event loop.
    private static func returnFreedMemory() async throws {
        guard let returnFreedMemory = ProcessMemory.returnFreedMemory else { return try await gracefulShutdown() }
        while true {
            try await Task.sleep(for: .seconds(10))
            returnFreedMemory()
        }
    }
}
