public import AccordCrypto
public import AccordModel
public import AccordStore
public import Foundation
import NIOConcurrencyHelpers

/// The authors a node trusts, learned from certificates: its peers' (verified by the TLS
/// handshake) and those that travel with relayed changes. Every certificate is checked against the
/// consortium CA and the node-certificate profile before its key is admitted, so a relay cannot
/// introduce an author of its own; a certificate on the revocation list is admitted with its
/// revocation date, after which its key no longer speaks for its node (docs/security-model.md).
public final class CertificateDirectory: AuthorDirectory {
    private struct Admitted: Sendable {
        let certificate: Certificate
        /// Parsed once: verification asks for keys once per change.
        let key: P256PublicKey
        var revokedAtMillis: UInt64?

        var authorKey: AuthorKey { AuthorKey(publicKey: key, revokedAtMillis: revokedAtMillis) }
    }

    private struct State {
        /// The consortium CA(s): during a rollover the file holds the old and the new one.
        var authority: CertificateAuthority
        var revocations: RevocationList
        /// Per node, every admitted certificate (a renewed certificate adds a key; older changes
        /// signed with the previous one stay verifiable).
        var admitted: [NodeID: [Admitted]] = [:]
        var fingerprints: Set<SHA256Digest> = []
    }

    private let state: NIOLockedValueBox<State>

    public init(authority: CertificateAuthority, revocations: RevocationList = .empty) {
        self.state = NIOLockedValueBox(State(authority: authority, revocations: revocations))
    }

    /// The authors a node trusts when it starts: its own certificate and every certificate its
    /// store remembers. A remembered certificate that no longer passes the CA check (another CA,
    /// after a rollover without a bundle) is left out; its author's changes then fail as by an
    /// unknown author. An expired one is admitted, as `admit` says.
    ///
    /// - Throws: `CryptoError` if the node's own certificate is not trusted or is revoked,
    ///   `StoreError`.
    public static func forNode(
        authority: CertificateAuthority, revocations: RevocationList = .empty, own: Certificate, store: NodeStore
    ) async throws -> CertificateDirectory {
        let directory = CertificateDirectory(authority: authority, revocations: revocations)
        if let revoked = revocations.revocationDate(of: own) {
            throw CryptoError(.untrustedCertificate, "this node's own certificate \(own) was revoked on \(revoked)")
        }
        try directory.admit(own)
        for certificate in try await store.certificates() { _ = try? directory.admit(certificate) }
        return directory
    }

    /// Checks `certificate` against the CA (chain and validity at `time`, or at its expiry if it
    /// has expired by then) and the node profile, and admits its key for the node its Subject
    /// names, with its revocation date if the revocation list names it. An expired certificate is
    /// admitted so that the changes it signed while it was valid stay verifiable: a node renews
    /// its certificate, and a partner that joins later still receives its earlier history.
    /// Sessions are another matter: the TLS handshake refuses an expired certificate.
    ///
    /// - Returns: the node, `O`/`CN` of the certificate.
    /// - Throws: `CryptoError` if the certificate is not trusted, is a CA certificate, names no
    ///   valid node, or has no P-256 key.
    @discardableResult
    public func admit(_ certificate: Certificate, at time: Date = Date()) throws(CryptoError) -> NodeID {
        try state.withLockedValue { $0.authority }.verify(certificate, at: min(time, certificate.notAfter.addingTimeInterval(-1)))
        try certificate.checkNodeProfile()
        guard let organisation = OrganisationID(rawValue: certificate.organisation),
            let node = NodeID(organisation: organisation, name: certificate.commonName)
        else {
            throw CryptoError(.invalidCertificate, "certificate \(certificate) does not name a valid organisation and node")
        }
        let key = try certificate.publicKey()
        state.withLockedValue { state in
            guard !(state.admitted[node]?.contains { $0.certificate == certificate } ?? false) else { return }
            let revoked = state.revocations.revocationDate(of: certificate).map(Self.millis)
            state.admitted[node, default: []].append(Admitted(certificate: certificate, key: key, revokedAtMillis: revoked))
            state.fingerprints.insert(certificate.fingerprint)
        }
        return node
    }

    /// Whether a certificate with this fingerprint (SHA-256 of its DER) was admitted: a relay
    /// sends an author's certificate once per session, and a peer that repeats it costs nothing.
    public func isAdmitted(_ fingerprint: SHA256Digest) -> Bool {
        state.withLockedValue { $0.fingerprints.contains(fingerprint) }
    }

    /// Whether the revocation list names `certificate` (such a certificate may still be admitted
    /// for the changes it signed before its revocation, but never as a session's peer).
    public func isRevoked(_ certificate: Certificate) -> Bool {
        state.withLockedValue { $0.revocations.revocationDate(of: certificate) != nil }
    }

    /// Replaces the CA(s) and the revocation lists (a reload) and re-dates every admitted
    /// certificate. Certificates admitted under a CA that is no longer trusted stay admitted: the
    /// changes they signed while it was the consortium's CA remain valid history; new
    /// certificates must chain to `authority`.
    ///
    /// - Returns: the nodes with a certificate revoked by `revocations` that was not revoked before.
    @discardableResult
    public func replaceTrust(authority: CertificateAuthority? = nil, revocations: RevocationList) -> Set<NodeID> {
        state.withLockedValue { state in
            if let authority { state.authority = authority }
            state.revocations = revocations
            var newlyRevoked: Set<NodeID> = []
            for (node, certificates) in state.admitted {
                state.admitted[node] = certificates.map { admitted in
                    var updated = admitted
                    updated.revokedAtMillis = revocations.revocationDate(of: admitted.certificate).map(Self.millis)
                    if updated.revokedAtMillis != nil, admitted.revokedAtMillis == nil { newlyRevoked.insert(node) }
                    return updated
                }
            }
            return newlyRevoked
        }
    }

    public func keys(of node: NodeID) -> [AuthorKey] {
        state.withLockedValue { $0.admitted[node]?.map(\.authorKey) ?? [] }
    }

    /// The organisations of every node admitted: whom this node knows to exist (from memory, so
    /// that checking the parties of every edit costs no store read).
    public var organisations: Set<OrganisationID> {
        state.withLockedValue { Set($0.admitted.keys.map(\.organisation)) }
    }

    /// The certificates admitted for `node`, to send along with its changes.
    public func certificates(of node: NodeID) -> [Certificate] {
        state.withLockedValue { $0.admitted[node]?.map(\.certificate) ?? [] }
    }

    private static func millis(_ date: Date) -> UInt64 { UInt64(max(0, date.timeIntervalSince1970) * 1000) }
}
