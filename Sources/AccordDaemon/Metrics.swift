import AccordModel
import AccordRefusals
import Foundation
import AccordCrypto
import AccordAdminAPI
import AccordStore
import AccordSync
import NIOConcurrencyHelpers
import Synchronization

/// Counts kept by the admin side itself.
final class AdminCounters: Sendable {
    private let authoredChanges = Synchronization.Atomic<Int>(0)
    private let consoleRefusals = NIOLockedValueBox<[String: Int]>([:])

    func consoleRefused(_ reason: String) { consoleRefusals.withLockedValue { $0[reason, default: 0] += 1 } }
    var consoleRefusalCounts: [String: Int] { consoleRefusals.withLockedValue { $0 } }

    func authored() { authoredChanges.add(1, ordering: .relaxed) }
    var authoredCount: Int { authoredChanges.load(ordering: .relaxed) }
}

/// Prometheus text exposition format 0.0.4: `# HELP`, `# TYPE`, then samples.
struct PrometheusText {
    private(set) var text = ""

    mutating func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: [(String, String)], value: Double)]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for sample in samples {
            let labels = sample.labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",")
            text += labels.isEmpty ? name : "\(name){\(labels)}"
            text += " \(Self.format(sample.value))\n"
        }
    }

    mutating func metric(_ name: String, _ type: String, _ help: String, _ value: Double) {
        metric(name, type, help, [([], value)])
    }

    mutating func metric(_ name: String, _ type: String, _ help: String, by label: String, _ values: [String: Int]) {
        metric(name, type, help, values.sorted { $0.key < $1.key }.map { ([(label, $0.key)], Double($0.value)) })
    }

    private static func escape(_ value: String) -> String {
        value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

extension NodeAdministration {
    /// `GET /metrics`.
    func metrics() async throws -> String {
        let sync = self.sync.metrics.snapshot
        let sessions = self.sync.sessions
        let counts = try await store.counts()
        let peers = try await peerStatuses()
        var text = PrometheusText()
        text.metric("accord_up", "gauge", "1 while the node serves.", 1)
        text.metric("accord_uptime_seconds", "gauge", "Seconds since the node started.", Double(clock() - min(clock(), startedAt)) / 1000)
        text.metric("accord_peers_configured", "gauge", "Peer organisations in the configuration.", Double(configuration.peers.count))
        text.metric("accord_peers_connected", "gauge", "Peer nodes with an established session.", Double(sessions.count))
        text.metric("accord_agreements", "gauge", "Agreements this node holds.", Double(counts.agreements))
        text.metric(
            "accord_console_refusals_total", "counter", "Web console requests refused, by reason.", by: "reason", counters.consoleRefusalCounts
        )
        let deadlines = try await deadlineCounts()
        text.metric("accord_commitments_overdue", "gauge", "Open commitments past their due date.", Double(deadlines.overdue))
        text.metric(
            "accord_agreements_expiring", "gauge", "Live agreements that expire within the window.", [([("within", "30d")], Double(deadlines.expiringSoon))]
        )
        let eventCounts = events.counts
        text.metric("accord_events_published_total", "counter", "Events published on the event stream.", Double(eventCounts.published))
        text.metric("accord_event_subscribers", "gauge", "Subscribers of the event stream now.", Double(eventCounts.subscribers))
        text.metric(
            "accord_event_subscribers_refused_total", "counter", "Event subscribers dropped or refused, by reason.",
            [([("reason", "fell-behind")], Double(eventCounts.dropped)), ([("reason", "too-many-subscribers")], Double(eventCounts.refused))]
        )
        text.metric("accord_log_changes", "gauge", "Accepted changes in this node's log.", Double(counts.changes))
        text.metric("accord_held_changes", "gauge", "Changes held until their dependencies arrive or their stamp is due.", Double(counts.held))
        text.metric("accord_rejected_changes_recorded", "gauge", "Rejected changes recorded in the store.", Double(counts.rejected))
        text.metric(
            "accord_store_write_failures_total", "counter", "Write transactions of the store that failed and were rolled back, by the store error's code (full, read-only, unavailable, ...).",
            by: "code", store.writeFailures
        )
        text.metric(
            "accord_refusals_total", "counter",
            "Input refused (peer connections, sessions, changes, HTTP connections and requests), each counted under its reason, whether logged in full or summarised.",
            by: "reason", refusals.counts
        )
        text.metric("accord_changes_authored_total", "counter", "Changes authored through the admin API.", Double(counters.authoredCount))
        text.metric("accord_changes_applied_total", "counter", "Changes from peers accepted into the log.", Double(sync.changesAccepted))
        text.metric("accord_changes_received_total", "counter", "Changes received from peers.", Double(sync.changesReceived))
        text.metric("accord_changes_duplicate_total", "counter", "Received changes this node already had.", Double(sync.changesDuplicate))
        text.metric("accord_changes_held_total", "counter", "Received changes that were held.", Double(sync.changesHeld))
        text.metric("accord_changes_sent_total", "counter", "Changes sent to peers.", Double(sync.changesSent))
        text.metric("accord_change_bytes_sent_total", "counter", "Bytes of change frames sent to peers.", Double(sync.changeBytesSent))
        text.metric(
            "accord_changes_rejected_total", "counter", "Received changes refused, by rule.", by: "reason", sync.changesRejected
        )
        text.metric("accord_batches_acknowledged_total", "counter", "Change batches peers acknowledged.", Double(sync.batchesAcknowledged))
        text.metric("accord_sessions_established_total", "counter", "Peer sessions established.", Double(sync.sessionsEstablished))
        text.metric("accord_sessions_ended_total", "counter", "Peer sessions ended, by reason.", by: "reason", sync.sessionsEnded)
        text.metric("accord_dial_failures_total", "counter", "Failed dials to peers.", Double(sync.dialFailures))
        text.metric(
            "accord_connections_refused_total", "counter",
            "Peer connections, accepted or dialled, that ended before their session started, by reason (this node's refusal, the peer's, or a timeout).",
            by: "reason", sync.connectionsRefused
        )
        text.metric("accord_reconcile_rounds_total", "counter", "Reconciliation rounds completed.", Double(sync.reconcileRounds))
        text.metric("accord_reconcile_seconds_total", "counter", "Seconds spent in reconciliation rounds (mean: divide by accord_reconcile_rounds_total).", sync.reconcileSecondsTotal)
        text.metric("accord_reconcile_differences_total", "counter", "Agreements found different by reconciliation.", Double(sync.reconcileDifferences))
        text.metric("accord_reconcile_bytes_total", "counter", "Bytes of reconciliation messages (reconcile and heads frames, both ways).", Double(sync.reconcileBytes))
        text.metric("accord_reconcile_heads_bytes_total", "counter", "Of accord_reconcile_bytes_total, the bytes of heads frames.", Double(sync.headsBytes))
        let lifetimes = certificateLifetimes(peers: peers)
        text.metric(
            "accord_certificate_expiry_timestamp_seconds", "gauge", "When the certificate of this node and of each peer node expires (Unix seconds).",
            lifetimes.entries.map { ([("node", $0.node.description)], $0.certificate.notAfter.timeIntervalSince1970.rounded()) }
        )
        text.metric(
            "accord_crl_next_update_timestamp_seconds", "gauge",
            "When each certificate revocation list in force must be replaced by a newer one (its nextUpdate, Unix seconds); past it the list has expired.",
            lifetimes.revocationLists.compactMap { list in list.nextUpdate.map { ([("issuer", list.issuer)], $0.timeIntervalSince1970.rounded()) } }
        )
        text.metric("accord_reloads_total", "counter", "Configuration reloads, by result (applied, refused).", by: "result", reloader.outcomes)
        let connectedOrganisations = Set(sessions.map(\.node.organisation))
        text.metric(
            "accord_partner_connected", "gauge", "1 while at least one node of the configured partner organisation is in session with this node.",
            configuration.peers.map { ([("organisation", $0.organisation.rawValue)], connectedOrganisations.contains($0.organisation) ? 1 : 0) }
        )
        text.metric(
            "accord_peer_last_reconcile_timestamp_seconds", "gauge",
            "When the last reconciliation round of the session with the peer node completed (Unix seconds; 0 until the session completes one).",
            sessions.sorted { $0.node < $1.node }.map { session in
                ([("peer", session.node.description)], session.lastRound.map { (Double($0.completedAt) / 1000).rounded() } ?? 0)
            }
        )
        let connected = peers.filter { $0.node != nil }
        func perPeer(_ value: (PeerStatus) -> Int) -> [(labels: [(String, String)], value: Double)] {
            connected.map { ([("peer", $0.node ?? $0.organisation)], Double(value($0))) }
        }
        text.metric("accord_peer_connected", "gauge", "1 while a session with the peer node is established.", perPeer { $0.connected ? 1 : 0 })
        text.metric("accord_peer_changes_unacknowledged", "gauge", "Changes the peer is owed and has not acknowledged.", perPeer(\.changesTheyLack))
        text.metric("accord_peer_batches_in_flight", "gauge", "Change batches sent to the peer and not yet acknowledged.", perPeer(\.batchesInFlight))
        text.metric("accord_peer_pending_repairs", "gauge", "Agreements queued for repair with the peer.", perPeer(\.pendingRepairs))
        return text.text
    }
}
