public import AccordCrypto
public import AccordModel
public import AccordStore
public import Foundation
import Synchronization

/// The authors a node trusts, learned from certificates: its peers' (verified by the TLS
/// handshake) and those that travel with relayed changes. Every certificate is checked against the
/// consortium CA before its key is admitted, so a relay cannot introduce an author of its own.
public final class CertificateDirectory: AuthorDirectory {
    private let authority: CertificateAuthority
    /// Per node, every admitted certificate (a renewed certificate adds a key; older changes
    /// signed with the previous one stay verifiable).
    private let admitted = Mutex<[NodeID: [Certificate]]>([:])

    public init(authority: CertificateAuthority) {
        self.authority = authority
    }

    /// The authors a node trusts when it starts: its own certificate and every certificate its
    /// store remembers. A remembered certificate that no longer passes the CA check (expired, or
    /// another CA) is left out; its author's changes then fail as by an unknown author.
    ///
    /// - Throws: `CryptoError` if the node's own certificate is not trusted, `StoreError`.
    public static func forNode(authority: CertificateAuthority, own: Certificate, store: NodeStore) async throws -> CertificateDirectory {
        let directory = CertificateDirectory(authority: authority)
        try directory.admit(own)
        for certificate in try await store.certificates() { _ = try? directory.admit(certificate) }
        return directory
    }

    /// Checks `certificate` against the CA (chain and validity at `time`) and admits its key for
    /// the node its Subject names.
    ///
    /// - Returns: the node, `O`/`CN` of the certificate.
    /// - Throws: `CryptoError` if the certificate is not trusted, names no valid node, or has no
    ///   P-256 key.
    @discardableResult
    public func admit(_ certificate: Certificate, at time: Date = Date()) throws(CryptoError) -> NodeID {
        try authority.verify(certificate, at: time)
        guard let organisation = OrganisationID(rawValue: certificate.organisation),
            let node = NodeID(organisation: organisation, name: certificate.commonName)
        else {
            throw CryptoError(.invalidCertificate, "certificate \(certificate) does not name a valid organisation and node")
        }
        _ = try certificate.publicKey()
        admitted.withLock { table in
            if !(table[node]?.contains(certificate) ?? false) { table[node, default: []].append(certificate) }
        }
        return node
    }

    public func publicKeys(of node: NodeID) -> [P256PublicKey] {
        admitted.withLock { $0[node] ?? [] }.compactMap { try? $0.publicKey() }
    }

    /// The certificates admitted for `node`, to send along with its changes.
    public func certificates(of node: NodeID) -> [Certificate] {
        admitted.withLock { $0[node] ?? [] }
    }
}
