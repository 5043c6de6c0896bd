public import AccordCrypto
public import NIOCore

/// How a node's TLS endpoint is set up: its identity, whom it trusts, and the limits it enforces.
/// The same configuration serves both roles; a node dials and accepts alike.
public struct TLSConfiguration: Sendable {
    /// PEM file with the node certificate (optionally followed by intermediates).
    public var certificateChainPath: String
    /// PEM file with the node's unencrypted EC P-256 private key.
    public var privateKeyPath: String
    /// PEM file with the consortium CA certificate(s).
    public var trustRootsPath: String
    /// Optional PEM CRL file; when set, revoked node certificates are refused.
    public var crlPath: String?
    /// When set, only peers whose leaf certificate has one of these SHA-256 fingerprints pass.
    public var pinnedFingerprints: Set<SHA256Digest>?
    /// How long a peer may take to complete the handshake.
    public var handshakeTimeout: TimeAmount
    /// How long to wait for the peer's close_notify after sending ours.
    public var closeTimeout: TimeAmount
    /// Plaintext written before the handshake completes is buffered up to this many bytes.
    public var maximumBufferedPlaintextBytes: Int

    public init(
        certificateChainPath: String, privateKeyPath: String, trustRootsPath: String, crlPath: String? = nil,
        pinnedFingerprints: Set<SHA256Digest>? = nil, handshakeTimeout: TimeAmount = .seconds(10),
        closeTimeout: TimeAmount = .seconds(2), maximumBufferedPlaintextBytes: Int = 1 << 20
    ) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.trustRootsPath = trustRootsPath
        self.crlPath = crlPath
        self.pinnedFingerprints = pinnedFingerprints
        self.handshakeTimeout = handshakeTimeout
        self.closeTimeout = closeTimeout
        self.maximumBufferedPlaintextBytes = maximumBufferedPlaintextBytes
    }
}

/// What one connection requires of its peer beyond a valid certificate from the CA.
public struct PeerPolicy: Hashable, Sendable {
    /// For an outgoing connection: the organisation the dialled peer must belong to.
    public var expectedOrganisation: String?
    /// For incoming connections: the organisations allowed to connect (nil: any the CA vouches for).
    public var allowedOrganisations: Set<String>?

    public init(expectedOrganisation: String? = nil, allowedOrganisations: Set<String>? = nil) {
        self.expectedOrganisation = expectedOrganisation
        self.allowedOrganisations = allowedOrganisations
    }

    public static let anyMember = PeerPolicy()
}
