public import AccordCrypto
public import AccordModel
public import AccordRefusals
public import AccordStore
public import AccordTLS
public import Foundation
public import Logging

/// A node's identity and the consortium's trust, read from their files and checked together: the
/// TLS context (certificate, key, CA, revocation list), the signer of its changes (the same key),
/// the CA and the revocation list for judging authors. The one place that turns files into a
/// node's credentials: accordd, the test clusters and the benchmarks all start here.
public struct NodeCredentials: Sendable {
    /// What went wrong, and with which of the files (named as the configuration names them).
    public struct Failure: Error, CustomStringConvertible {
        public enum Field: String, Sendable {
            /// The TLS context as a whole; the message names the file that failed.
            case tls = "tls"
            case certificate = "tls.certificate"
            case privateKey = "tls.private_key"
            case certificateAuthority = "tls.ca"
            case revocationList = "tls.crl"
        }

        public let field: Field
        public let message: String

        public var description: String { "\(field.rawValue): \(message)" }
    }

    public let node: NodeID
    public let tls: TLSContext
    public let signer: ChangeSigner
    public let authority: CertificateAuthority
    public let revocations: RevocationList

    /// Reads and checks every file: the key is not open to other users and matches the
    /// certificate, the certificate names `node`, is a usable node certificate and is not
    /// revoked, and no revocation list has passed its next update at `now`. `accordd` start,
    /// `--check-config` and reload all come here, so all three refuse the same files with the
    /// same words.
    public init(
        node: NodeID, certificate: String, privateKey: String, certificateAuthority: String, revocationList: String? = nil,
        now: Date = Date()
    ) throws(Failure) {
        self.node = node
        try Self.checkPermissions(ofKey: privateKey)
        do {
            var configuration = TLSConfiguration(certificateChainPath: certificate, privateKeyPath: privateKey, trustRootsPath: certificateAuthority)
            configuration.crlPath = revocationList
            tls = try TLSContext(configuration: configuration)
        } catch {
            throw Failure(field: .tls, message: "\(error)")
        }
        do {
            signer = ChangeSigner(node: node, key: try P256PrivateKey(pemRepresentation: String(contentsOfFile: privateKey, encoding: .utf8)))
        } catch {
            throw Failure(field: .privateKey, message: "\(privateKey): \(error)")
        }
        let authority: CertificateAuthority
        do {
            authority = try CertificateAuthority(pemFile: certificateAuthority)
        } catch {
            throw Failure(field: .certificateAuthority, message: "\(error)")
        }
        self.authority = authority
        do {
            revocations = try revocationList.map { path throws(CryptoError) in try RevocationList(pemFile: path, issuedBy: authority.certificates) } ?? .empty
        } catch {
            throw Failure(field: .revocationList, message: "\(error)")
        }
        let own = tls.certificate
        guard own.organisation == node.organisation.rawValue, own.commonName == node.name else {
            throw Failure(
                field: .certificate,
                message: "the certificate is for O=\(own.organisation), CN=\(own.commonName), but [node] names \(node)"
            )
        }
        // Peers would refuse it at every handshake: better said now, naming the file.
        do {
            try authority.verify(own)
            try own.checkNodeProfile()
        } catch {
            throw Failure(field: .certificate, message: "\(certificate): not usable with tls.ca: \(error)")
        }
        if let revoked = revocations.revocationDate(of: own) {
            throw Failure(field: .certificate, message: "\(certificate): revoked by tls.crl on \(revoked)")
        }
        if let revocationList, let expired = revocations.validity.first(where: { $0.hasExpired(at: now) }) {
            throw Failure(field: .revocationList, message: Self.expiryMessage(expired, file: revocationList))
        }
    }

    /// What to say of a revocation list past its next update: what it means and how to fix it.
    public static func expiryMessage(_ list: RevocationList.Validity, file: String) -> String {
        "\(file): the revocation list of \(list.issuer) expired at \(list.nextUpdate.map { "\($0)" } ?? "?") (its nextUpdate); "
            + "peers would refuse every handshake it judges. Issue a new CRL at the CA (make-certs.sh -o PKI --crl), install it "
            + "on every node and run accordctl reload (docs/operations.md, \"Refresh the revocation list\")"
    }

    /// The key is a secret of this node: a key file that users other than its owner and group
    /// can read or change is refused, as ssh refuses such keys.
    private static func checkPermissions(ofKey path: String) throws(Failure) {
        var status = stat()
        guard stat(path, &status) == 0 else { return }  // reading it fails below, with the reason
        let others = status.st_mode & 0o007
        guard others == 0 else {
            throw Failure(
                field: .privateKey,
                message: "\(path): other users can access it (mode \(String(status.st_mode & 0o777, radix: 8))); "
                    + "chmod 600 it (or 640 with accordd's group), as the key signs in this node's name"
            )
        }
    }

    /// The credentials of `ORG-NODE` in a folder laid out as certs-example's (`ca.pem`,
    /// `ORG-NODE.pem`, `ORG-NODE.key`, perhaps `crl.pem`): tests and benchmarks.
    public init(_ name: String, in folder: String, revocationList: Bool = false) throws(Failure) {
        let parts = name.split(separator: "-", maxSplits: 1).map(String.init)
        guard parts.count == 2, let organisation = OrganisationID(rawValue: parts[0]), let node = NodeID(organisation: organisation, name: parts[1]) else {
            throw Failure(field: .certificate, message: "\(name) is not ORGANISATION-NODE")
        }
        try self.init(
            node: node, certificate: "\(folder)/\(name).pem", privateKey: "\(folder)/\(name).key",
            certificateAuthority: "\(folder)/ca.pem", revocationList: revocationList ? "\(folder)/crl.pem" : nil
        )
    }

    /// The directory of trusted authors for a node with these credentials and `store`.
    public func directory(store: NodeStore) async throws -> CertificateDirectory {
        try await CertificateDirectory.forNode(authority: authority, revocations: revocations, own: tls.certificate, store: store)
    }
}

extension SyncNode {
    /// A node's sync, assembled from its credentials and its open store: the certificate
    /// directory (its own certificate and every one the store remembers) and the node itself.
    public static func assemble(
        credentials: NodeCredentials, configuration: SyncConfiguration, store: NodeStore, logger: Logger, refusals: RefusalLog? = nil
    ) async throws -> SyncNode {
        precondition(configuration.node == credentials.node, "the sync configuration is for \(configuration.node), the credentials for \(credentials.node)")
        let directory = try await credentials.directory(store: store)
        // Remembered so that, after the certificate is renewed, the changes it signed still verify.
        try await store.rememberCertificate(credentials.tls.certificate, nowMillis: configuration.clock())
        return SyncNode(configuration: configuration, store: store, tls: credentials.tls, directory: directory, logger: logger, refusals: refusals)
    }
}
