internal import COpenSSL

/// Why a TLS peer was refused, as a rule an operator can look up (docs/tls.md) and a subject.
///
/// The code is the `reason` label of the refusal metrics and the `reason` field of the log line,
/// one kebab-case word per rule, so that a flood of refusals can be told apart by cause.
public struct PeerRefusal: Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The peer presented no certificate.
        public static let noCertificate = Code("no-certificate")
        /// The chain does not end at the consortium CA (another CA, self-signed, bad signature).
        public static let untrustedIssuer = Code("untrusted-issuer")
        public static let certificateExpired = Code("certificate-expired")
        public static let certificateNotYetValid = Code("certificate-not-yet-valid")
        /// The consortium CA's revocation list names the certificate.
        public static let certificateRevoked = Code("certificate-revoked")
        /// Any other failure of the chain check (purpose, extensions, an unusable CRL).
        public static let certificateInvalid = Code("certificate-invalid")
        /// The Subject lacks exactly one `O` and one `CN`.
        public static let invalidIdentity = Code("invalid-identity")
        /// A node certificate that is itself a CA (`basicConstraints CA:TRUE`).
        public static let caCertificate = Code("ca-certificate")
        /// A key other than ECDSA P-256.
        public static let unsupportedKey = Code("unsupported-key")
        /// Dialling: the peer's organisation is not the one configured at that address.
        public static let wrongOrganisation = Code("wrong-organisation")
        /// Accepting: the peer's organisation is not among the configured peers.
        public static let organisationNotConfigured = Code("organisation-not-configured")
        public static let pinMismatch = Code("pin-mismatch")
        /// The peer offered only TLS versions before 1.3.
        public static let tlsVersion = Code("tls-version")
        /// The peer does not speak TLS at all (plaintext, HTTP, garbage).
        public static let notTLS = Code("not-tls")
        /// The peer refused this node (an alert after our certificate or hello).
        public static let refusedByPeer = Code("refused-by-peer")
        /// Another handshake failure.
        public static let handshakeFailed = Code("handshake-failed")

        public var description: String { name }
    }

    public let code: Code
    /// Which certificate failed which rule, or what OpenSSL reported.
    public let message: String
    /// `organisation/node` of the refused certificate when it names one: an operator asks "why
    /// is that node not connected", and a refusal is filed under the node it refused.
    public let subject: String?

    public init(_ code: Code, _ message: String, subject: String? = nil) {
        self.code = code
        self.message = message
        self.subject = subject
    }

    public var description: String { "\(code): \(message)" }

    /// The rule behind an OpenSSL chain-verification error.
    static func code(forVerifyError error: Int32) -> Code {
        switch error {
        case X509_V_ERR_CERT_HAS_EXPIRED: .certificateExpired
        case X509_V_ERR_CERT_NOT_YET_VALID: .certificateNotYetValid
        case X509_V_ERR_CERT_REVOKED: .certificateRevoked
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_SIGNATURE_FAILURE:
            .untrustedIssuer
        default: .certificateInvalid
        }
    }

    /// The rule behind a handshake failure that no certificate check explains, read from
    /// OpenSSL's error queue (its reason strings are stable across OpenSSL 3 releases).
    static func classifying(handshakeReasons reasons: [String], summary: String) -> PeerRefusal {
        let text = reasons.joined(separator: "; ")
        let code: Code =
            if text.contains("peer did not return a certificate") || text.contains("certificate required") && !text.contains("alert") {
                .noCertificate
            } else if text.contains("unsupported protocol") || text.contains("no protocols available") {
                .tlsVersion
            } else if text.contains("wrong version number") || text.contains("http request") || text.contains("https proxy request")
                || text.contains("packet length too long") || text.contains("record layer failure")
            {
                .notTLS
            } else if text.contains("alert") {
                .refusedByPeer
            } else {
                .handshakeFailed
            }
        return PeerRefusal(code, summary)
    }
}
