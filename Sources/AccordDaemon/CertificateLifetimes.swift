import AccordTLS
import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordSync
import Foundation
import Logging

/// How long the certificates this node relies on have left: its own and its peers'. A node
/// certificate that expires ends its node's sessions for good (peers refuse it at the handshake),
/// so the operator is told a month ahead, in `status`, in `/metrics` and in the log.
struct CertificateLifetimes {
    /// Certificates that expire within this period are warned about.
    static let warningPeriod: TimeInterval = 30 * 86_400

    struct Entry {
        let node: NodeID
        let certificate: Certificate
        let isOwn: Bool
    }

    let now: Date
    let entries: [Entry]

    /// This node's current certificate and the one each peer node presents (or last presented).
    init(own: NodeID, sync: SyncNode, peers: [NodeID], now: Date = Date()) {
        self.now = now
        var entries = [Entry(node: own, certificate: sync.tls.certificate, isOwn: true)]
        for node in peers {
            if let certificate = sync.certificate(of: node) { entries.append(Entry(node: node, certificate: certificate, isOwn: false)) }
        }
        self.entries = entries
    }

    static func status(of certificate: Certificate, node: NodeID, now: Date) -> CertificateStatus {
        let left = certificate.notAfter.timeIntervalSince(now)
        return CertificateStatus(
            node: node.description, fingerprint: certificate.fingerprint.hex, notAfter: timestamp(certificate.notAfter),
            daysLeft: (left / 86_400 * 10).rounded() / 10, expiresSoon: left < warningPeriod
        )
    }

    func status(of node: NodeID) -> CertificateStatus? {
        entries.first { $0.node == node }.map { Self.status(of: $0.certificate, node: $0.node, now: now) }
    }

    private static func timestamp(_ date: Date) -> String {
        AdminAPI.timestamp(millis: UInt64(max(0, date.timeIntervalSince1970) * 1000))
    }

    /// One line per certificate that expires within the warning period or has expired.
    var warnings: [String] {
        entries.compactMap { entry in
            let left = entry.certificate.notAfter.timeIntervalSince(now)
            guard left < Self.warningPeriod else { return nil }
            let whose = entry.isOwn ? "this node's certificate (\(entry.node))" : "the certificate of peer \(entry.node)"
            let when = Self.timestamp(entry.certificate.notAfter)
            let remedy = entry.isOwn ? "renew it and run accordctl reload" : "ask its operator to renew it"
            if left <= 0 { return "\(whose) expired at \(when): sessions using it are refused; \(remedy)" }
            return "\(whose) expires at \(when), in \(Int(left / 86_400)) day(s); \(remedy)"
        }
    }
}

/// Logs each certificate warning once a day, not at every check.
actor CertificateWarningLog {
    private let logger: Logger
    private var lastLogged: [String: Date] = [:]

    init(logger: Logger) { self.logger = logger }

    func log(_ warnings: [String], now: Date = Date()) {
        for warning in warnings where now.timeIntervalSince(lastLogged[warning] ?? .distantPast) >= 86_400 {
            lastLogged[warning] = now
            logger.warning("certificate expiry", metadata: ["warning": "\(warning)"])
        }
        lastLogged = lastLogged.filter { warnings.contains($0.key) }
    }
}
