import AccordTLS
import AccordAdminAPI
public import AccordCrypto
public import AccordModel
import AccordSync
public import Foundation
import Logging

/// How long the certificates and revocation lists this node relies on have left: its own
/// certificate, its peers', and the consortium's CRLs. A node certificate that expires ends its
/// node's sessions for good (peers refuse it at the handshake), and a CRL past its next update
/// makes OpenSSL refuse every certificate it judges; so the operator is told ahead, in
/// `status`, in `/metrics` and in the log.
public struct CertificateLifetimes: Sendable {
    /// Certificates that expire within this period are warned about.
    static let warningPeriod: TimeInterval = 30 * 86_400
    /// A CRL is refreshed often (make-certs.sh gives 30 days): a week's notice is enough and
    /// does not cry wolf for most of its life.
    static let revocationListWarningPeriod: TimeInterval = 7 * 86_400

    struct Entry: Sendable {
        let node: NodeID
        let certificate: Certificate
        let isOwn: Bool
        /// When the consortium's CRL revoked it, if it did.
        let revokedAt: Date?
    }

    let now: Date
    let entries: [Entry]
    /// The revocation lists in force and the file they came from (nil: none configured).
    let revocationLists: [RevocationList.Validity]
    let revocationListFile: String?

    /// This node's certificate, the certificate each peer in `peers` presents (or last presented)
    /// and the revocation lists in force.
    public init(
        own: NodeID, certificate: Certificate, revocations: RevocationList, revocationListFile: String? = nil,
        peers: [(node: NodeID, certificate: Certificate)] = [], now: Date = Date()
    ) {
        self.now = now
        var entries = [Entry(node: own, certificate: certificate, isOwn: true, revokedAt: revocations.revocationDate(of: certificate))]
        for peer in peers {
            entries.append(Entry(node: peer.node, certificate: peer.certificate, isOwn: false, revokedAt: revocations.revocationDate(of: peer.certificate)))
        }
        self.entries = entries
        self.revocationLists = revocations.validity
        self.revocationListFile = revocationListFile
    }

    static func status(of certificate: Certificate, node: NodeID, revokedAt: Date?, now: Date) -> CertificateStatus {
        let left = certificate.notAfter.timeIntervalSince(now)
        var status = CertificateStatus(
            node: node.description, fingerprint: certificate.fingerprint.hex, notAfter: timestamp(certificate.notAfter),
            daysLeft: (left / 86_400 * 10).rounded() / 10, expiresSoon: left < warningPeriod
        )
        status.revokedAt = revokedAt.map(timestamp)
        return status
    }

    func status(of node: NodeID) -> CertificateStatus? {
        entries.first { $0.node == node }.map { Self.status(of: $0.certificate, node: $0.node, revokedAt: $0.revokedAt, now: now) }
    }

    /// Each revocation list in force: whose, when it must be replaced, whether it has expired.
    var revocationListStatuses: [RevocationListStatus] {
        revocationLists.map { list in
            let left = list.nextUpdate.map { $0.timeIntervalSince(now) }
            return RevocationListStatus(
                issuer: list.issuer, file: revocationListFile ?? "", lastUpdate: Self.timestamp(list.lastUpdate),
                nextUpdate: list.nextUpdate.map(Self.timestamp), daysLeft: left.map { ($0 / 86_400 * 10).rounded() / 10 },
                expired: list.hasExpired(at: now)
            )
        }
    }

    /// The earliest moment one of the revocation lists in force expires, if it has not yet.
    var nextRevocationListExpiry: Date? {
        revocationLists.compactMap(\.nextUpdate).filter { $0 > now }.min()
    }

    private static func timestamp(_ date: Date) -> String {
        AdminAPI.timestamp(millis: UInt64(max(0, date.timeIntervalSince1970) * 1000))
    }

    /// One line per certificate that expires within the warning period or has expired, and per
    /// revocation list that expires within a week or has expired.
    public var warnings: [String] {
        let certificates: [String] = entries.compactMap { entry in
            guard entry.revokedAt == nil else { return nil }  // a revoked peer is reported as such (`peers`)
            let left = entry.certificate.notAfter.timeIntervalSince(now)
            guard left < Self.warningPeriod else { return nil }
            let whose = entry.isOwn ? "this node's certificate (\(entry.node))" : "the certificate of peer \(entry.node)"
            let when = Self.timestamp(entry.certificate.notAfter)
            let remedy = entry.isOwn ? "renew it and run accordctl reload" : "ask its operator to renew it"
            if left <= 0 { return "\(whose) expired at \(when): sessions using it are refused; \(remedy)" }
            return "\(whose) expires at \(when), in \(Int(left / 86_400)) day(s); \(remedy)"
        }
        let lists: [String] = revocationLists.compactMap { list in
            guard let next = list.nextUpdate else { return nil }
            let left = next.timeIntervalSince(now)
            guard left < Self.revocationListWarningPeriod else { return nil }
            let file = revocationListFile.map { " (\($0))" } ?? ""
            let remedy = "issue a new CRL at the CA (make-certs.sh --crl), install it on every node and run accordctl reload"
            if left <= 0 {
                return "the revocation list of \(list.issuer)\(file) expired at \(Self.timestamp(next)): this node still refuses the "
                    + "certificates it lists and accepts the others, but it refuses to start or reload with it; \(remedy)"
            }
            return "the revocation list of \(list.issuer)\(file) expires at \(Self.timestamp(next)), in \(Self.span(left)); \(remedy)"
        }
        return certificates + lists
    }

    private static func span(_ seconds: TimeInterval) -> String {
        seconds >= 86_400 ? "\(Int(seconds / 86_400)) day(s)" : seconds >= 3600 ? "\(Int(seconds / 3600)) hour(s)" : "\(Int(seconds / 60)) minute(s)"
    }
}

extension CertificateLifetimes {
    /// This node's current certificate, the one each peer node in `peers` presents (or last
    /// presented) and the CRLs of the running configuration.
    init(own: NodeID, sync: SyncNode, credentials: NodeCredentials, revocationListFile: String?, peers: [NodeID], now: Date = Date()) {
        self.init(
            own: own, certificate: sync.tls.certificate, revocations: credentials.revocations, revocationListFile: revocationListFile,
            peers: peers.compactMap { node in sync.certificate(of: node).map { (node, $0) } }, now: now
        )
    }
}

/// Logs each certificate and revocation-list warning once a day, not at every check; one that
/// says something has expired is an error, the others warnings.
actor CertificateWarningLog {
    private let logger: Logger
    private var lastLogged: [String: Date] = [:]

    init(logger: Logger) { self.logger = logger }

    func log(_ warnings: [String], now: Date = Date()) {
        for warning in warnings where now.timeIntervalSince(lastLogged[warning] ?? .distantPast) >= 86_400 {
            lastLogged[warning] = now
            if warning.contains(" expired at ") {
                logger.error("certificate or revocation list expired", metadata: ["warning": "\(warning)"])
            } else {
                logger.warning("certificate expiry", metadata: ["warning": "\(warning)"])
            }
        }
        lastLogged = lastLogged.filter { warnings.contains($0.key) }
    }
}
