import AccordDaemon
import AccordStore
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

@main
struct Accordd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accordd",
        abstract: "The Accord node daemon: keeps this organisation's copy of its agreements in sync with the other parties' nodes.",
        discussion: """
            Reads its configuration from a TOML file (see README.md, "Configuration"), opens the node's \
            store, listens for peers over mutually authenticated TLS 1.3, dials the configured peers and \
            serves the admin API on a Unix socket for accordctl. SIGTERM or SIGINT stops it cleanly.

            Exit status: 0 after a clean stop, 78 for a bad configuration or certificate, 73 when the \
            data directory cannot be used, 69 when the admin socket is taken, 1 for any other failure.
            """,
        version: NodeAdministration.version
    )

    enum LogFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: .long, help: ArgumentHelp("The node's configuration file.", valueName: "file"))
    var config: String

    @Option(name: .long, help: "How log lines are written to standard error: text for people, json for log shippers.")
    var logFormat: LogFormat = .text

    enum LogLevel: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    @Option(name: .long, help: "The lowest level logged.")
    var logLevel: LogLevel = .info

    @Flag(name: .long, help: "Check the configuration and its files, then exit without starting.")
    var checkConfig = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Restore the data directory from a backup (accordctl backup) before starting; the data directory must hold no database. The node then catches up from its partners.",
            valueName: "file"
        )
    )
    var restore: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "For fault tests only: the node's clock is the system clock plus the signed milliseconds written in this file, re-read as it changes.",
            valueName: "file", visibility: .hidden
        )
    )
    var clockOffsetFile: String?

    func run() async throws {
        let (format, level) = (logFormat, Logger.Level(rawValue: logLevel.rawValue) ?? .info)
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "accordd")
        let configuration: DaemonConfiguration
        do {
            configuration = try DaemonConfiguration.load(file: config)
        } catch {
            FileHandle.standardError.write(Data("accordd: bad configuration: \(error)\n".utf8))
            throw ExitCode(StartupError.configuration)
        }
        if checkConfig {
            // Every check start and reload make of the files, with their words: a pre-start
            // check that passes what start refuses is worse than none.
            do {
                let warnings = try configuration.checkCredentials()
                print("\(config): configuration is valid (node \(configuration.node), \(configuration.peers.count) peer(s))")
                for warning in warnings { print("warning: \(warning)") }
            } catch {
                FileHandle.standardError.write(Data("accordd: bad configuration: \(config): \(error)\n".utf8))
                throw ExitCode(StartupError.configuration)
            }
            return
        }
        if let restore {
            do {
                let report = try NodeStore.restore(backup: restore, into: configuration.storeConfiguration)
                logger.notice("restored the data directory from a backup", metadata: [
                    "backup": "\(restore)", "last_sequence": "\(report.lastSequence)", "agreements": "\(report.agreements)",
                ])
            } catch {
                logger.critical("cannot restore: \(error)")
                throw ExitCode(StartupError.dataDirectory)
            }
        }
        let daemon: Daemon
        do {
            if let clockOffsetFile { logger.warning("the node's clock is offset by the file \(clockOffsetFile) (a fault test)") }
            daemon = try await Daemon(
                configuration: configuration, logger: logger, clock: clockOffsetFile.map(NodeClock.offset) ?? NodeClock.system
            )
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(error.exitCode)
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: daemon.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        do {
            try await group.run()
        } catch let error as StartupError {
            logger.critical("cannot start: \(error)")
            throw ExitCode(error.exitCode)
        } catch let error as AdminSocketError {
            logger.critical("cannot start: \(configuration.file): admin.socket: \(error)")
            throw ExitCode(StartupError.unavailable)
        } catch {
            logger.critical("stopped on an error: \(error)")
            throw ExitCode.failure
        }
        logger.info("accordd stopped cleanly")
    }
}
