import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import AccordTLS
import Foundation
public import Logging
public import ServiceLifecycle
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

/// One running node: its store, its sync and its admin API, started in that order and stopped
/// together. Run it in a `ServiceGroup`: on SIGTERM or SIGINT it stops accepting connections,
/// lets admin requests in flight finish, closes peer sessions with TLS close_notify, closes the
/// store, and returns.
public final class Daemon: Service {
    public let configuration: DaemonConfiguration
    private let store: NodeStore
    private let sync: SyncNode
    private let admin: AdminServer
    private let administration: NodeAdministration
    private let reloader: ConfigurationReloader
    private let certificateWarnings: CertificateWarningLog
    private let eventFeed: NodeEventFeed
    private let deadlineWatch: DeadlineWatch
    private let console: (server: ConsoleServer, application: ConsoleApplication)?
    /// The one refusal log of the process: sync, admin API, console and event stream log their
    /// refusals through it, and `run` flushes its summaries.
    private let refusals: RefusalLog
    private let logger: Logger

    /// Opens everything the node needs; each failure names what to fix. The listen address, the
    /// admin socket and the console's address are all bound here, so that one taken by another
    /// process is an error before the node says it has started.
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

        let dataDirectory = configuration.dataDirectory
        do {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: dataDirectory, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw StartupError(exitCode: StartupError.dataDirectory, message: "\(file): node.data_directory: \(dataDirectory) is not a directory")
            }
            do {
                try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw StartupError(exitCode: StartupError.dataDirectory, message: "\(file): node.data_directory: cannot create \(dataDirectory): \(Self.describe(error))")
            }
            do {
                store = try NodeStore(configuration: configuration.storeConfiguration)
            } catch {
                // A store error names the path already.
                throw StartupError(exitCode: StartupError.dataDirectory, message: "\(file): node.data_directory: \(error)")
            }
        }
        let store = self.store
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
        do {
            admin = try await AdminServer(path: configuration.adminSocket, mode: configuration.adminSocketMode, logger: logger, refusals: refusals)
        } catch {
            throw await failure(StartupError.unavailable, "admin.socket: \(error)")
        }
        self.sync = sync
        let live = LiveConfiguration(.init(configuration: configuration, credentials: credentials))
        reloader = ConfigurationReloader(live: live, sync: sync, logger: logger)
        let events = EventHub(run: clock(), refusals: refusals)
        eventFeed = NodeEventFeed(hub: events, store: store, sync: sync, clock: clock)
        let authority = configuration.console.map { _ in ConsoleAuthority() }
        administration = NodeAdministration(
            live: live, store: store, sync: sync, reloader: reloader, events: events, console: authority, clock: clock
        )
        deadlineWatch = DeadlineWatch(administration: administration, events: events)
        if let address = configuration.console, let authority {
            do {
                let server = try await ConsoleServer(host: address.host, port: address.port, logger: logger, refusals: refusals)
                let application = ConsoleApplication(
                    administration: administration, authority: authority, events: events, address: address, logger: logger, refusals: refusals
                )
                console = (server, application)
            } catch {
                throw await failure(error.inUse ? StartupError.addressInUse : StartupError.unavailable, "console.address: \(error)")
            }
        } else {
            console = nil
        }
        certificateWarnings = CertificateWarningLog(logger: logger)
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? CocoaError, let underlying = error.userInfo[NSUnderlyingErrorKey] as? POSIXError {
            return String(cString: strerror(underlying.code.rawValue))
        }
        return "\(error)"
    }

    /// Runs `operation` until it ends or a graceful shutdown cancels it; being stopped that way
    /// is the normal end, not an error.
    private static func untilShutdown(_ operation: @escaping @Sendable () async throws -> Void) async throws {
        do {
            try await cancelWhenGracefulShutdown(operation)
        } catch is CancellationError {
            return
        }
    }

    /// SIGHUP reloads the configuration, as `accordctl reload` does.
    private func reloadOnHangup() async {
        for await _ in await UnixSignalsSequence(trapping: .sighup) {
            _ = try? await reloader.reload(trigger: "SIGHUP")
        }
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
    private func returnFreedMemory() async throws {
        guard let returnFreedMemory = ProcessMemory.returnFreedMemory else { return }
        while true {
            try await Task.sleep(for: .seconds(10))
            returnFreedMemory()
        }
    }

    public func run() async throws {
        if !ProcessMemory.configureAllocator() {
            logger.notice("the C library does not take allocator settings; memory use may stay near its peak")
        }
        logger.info("accordd started", metadata: [
            "node": "\(configuration.node)", "admin": "\(configuration.adminSocket)",
            "console": "\(console.map { "http://\(configuration.console!.host):\($0.server.port)/" } ?? "off")",
            "peers": "\(configuration.peers.map(\.description).joined(separator: ", "))",
        ])
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await Self.untilShutdown { try await self.sync.run() } }
                group.addTask { try await Self.untilShutdown { try await self.admin.run(self.administration.handle) } }
                if let console = self.console {
                    group.addTask { try await Self.untilShutdown { try await console.server.run(console.application.handle) } }
                }
                group.addTask { try await Self.untilShutdown { await self.reloadOnHangup() } }
                group.addTask { try await Self.untilShutdown { try await self.watchCertificates() } }
                group.addTask { try await Self.untilShutdown { try await self.returnFreedMemory() } }
                group.addTask { try await Self.untilShutdown { try await self.deadlineWatch.run() } }
                group.addTask { try await Self.untilShutdown { try await self.refusals.run() } }
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        logger.info("accordd stopped cleanly")
    }
}
