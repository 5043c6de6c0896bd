import AccordModel
import AccordAdminAPI
import AccordCrypto
import AccordSync
import Logging
import NIOConcurrencyHelpers

/// The configuration and credentials a running node works with. A reload replaces both at once,
/// so a request never signs with one file's key and reports another file's peers.
final class LiveConfiguration: Sendable {
    struct Snapshot: Sendable {
        let configuration: DaemonConfiguration
        let credentials: NodeCredentials
    }

    private let snapshot: NIOLockedValueBox<Snapshot>

    init(_ snapshot: Snapshot) { self.snapshot = NIOLockedValueBox(snapshot) }

    var current: Snapshot { snapshot.withLockedValue { $0 } }

    func replace(with new: Snapshot) { snapshot.withLockedValue { $0 = new } }
}

/// Why a reload changed nothing, with the file and field to fix.
struct ReloadRefusal: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Re-reads the configuration file and the files it names, on SIGHUP or `accordctl reload`, and
/// applies them to the running node. One reload at a time (an actor): two at once would race to
/// replace each other's credentials. All is checked before anything is applied; a reload that
/// fails leaves the node running on what it had, and says why once.
actor ConfigurationReloader {
    private let live: LiveConfiguration
    private let sync: SyncNode
    private let logger: Logger
    private let results = NIOLockedValueBox<[String: Int]>([:])

    init(live: LiveConfiguration, sync: SyncNode, logger: Logger) {
        self.live = live
        self.sync = sync
        self.logger = logger
    }

    /// Reloads counted by outcome (`applied`, `refused`), for `/metrics`.
    nonisolated var outcomes: [String: Int] { results.withLockedValue { $0 } }

    /// Loads, checks and applies the configuration file the node was started with.
    func reload(trigger: String) async throws(ReloadRefusal) -> ReloadResult {
        let running = live.current
        do {
            let result = try await apply(file: running.configuration.file, over: running)
            results.withLockedValue { $0["applied", default: 0] += 1 }
            logger.notice("configuration reloaded", metadata: [
                "trigger": "\(trigger)",
                "peers_added": "\(result.peersAdded.joined(separator: "; "))",
                "peers_removed": "\(result.peersRemoved.joined(separator: "; "))",
                "certificate_renewed": "\(result.certificateRenewed)",
                "newly_revoked": "\(result.newlyRevoked.joined(separator: ", "))",
                "sessions_closed": "\(result.sessionsClosed.map { "\($0.node) (\($0.reason))" }.joined(separator: ", "))",
            ])
            return result
        } catch {
            results.withLockedValue { $0["refused", default: 0] += 1 }
            logger.error("configuration reload refused; the node keeps its running configuration", metadata: [
                "trigger": "\(trigger)", "reason": "\(error)",
            ])
            throw error
        }
    }

    private func apply(file: String, over running: LiveConfiguration.Snapshot) async throws(ReloadRefusal) -> ReloadResult {
        let configuration: DaemonConfiguration
        do {
            configuration = try DaemonConfiguration.load(file: file)
        } catch {
            throw ReloadRefusal(message: "\(error)")
        }
        let fixed = running.configuration.fieldsNeedingRestart(toBecome: configuration)
        guard fixed.isEmpty else {
            throw ReloadRefusal(message: "\(file): \(fixed.joined(separator: ", ")) cannot change while accordd runs; restart it to apply \(fixed.count == 1 ? "this change" : "these changes")")
        }
        let credentials: NodeCredentials
        do {
            credentials = try configuration.credentials()
        } catch {
            throw ReloadRefusal(message: "\(file): \(error)")
        }
        let outcome: SyncNode.Reconfiguration
        do {
            outcome = try await sync.reconfigure(credentials: credentials, peers: configuration.peers)
        } catch {
            throw ReloadRefusal(message: "the node's store could not record the new certificate: \(error)")
        }
        live.replace(with: .init(configuration: configuration, credentials: credentials))
        return ReloadResult(
            peersAdded: outcome.peersAdded.map(\.description), peersRemoved: outcome.peersRemoved.map(\.description),
            certificateRenewed: outcome.certificateRenewed, newlyRevoked: outcome.newlyRevoked.map(\.description),
            sessionsClosed: outcome.sessionsClosed.sorted { $0.key < $1.key }.map { ClosedSession(node: $0.key.description, reason: $0.value) }
        )
    }
}
