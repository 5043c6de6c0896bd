/// Why a TLS connection failed or was refused, in words an operator can act on, with OpenSSL's
/// error queue attached.
public struct TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// A certificate, key, CA or CRL file could not be loaded.
        public static let configuration = Code("configuration")
        /// The peer's certificate was refused: which rule and which certificate are in the message.
        public static let peerRejected = Code("peer-rejected")
        /// The handshake failed for another reason (protocol version, garbage, alert from the peer).
        public static let handshakeFailed = Code("handshake-failed")
        /// The peer did not complete the handshake in time.
        public static let handshakeTimeout = Code("handshake-timeout")
        /// The peer closed the TCP connection without close_notify: data may have been truncated.
        public static let uncleanShutdown = Code("unclean-shutdown")
        /// The peer disconnected before the handshake completed.
        public static let disconnectedDuringHandshake = Code("disconnected-during-handshake")
        /// A TLS record could not be decrypted or another protocol error after the handshake.
        public static let protocolError = Code("protocol-error")
        /// Writes were made faster than the handshake could complete and the buffer limit was hit.
        public static let bufferLimitExceeded = Code("buffer-limit-exceeded")
        /// The connection is closing or closed.
        public static let closed = Code("closed")

        public var description: String { name }
    }

    public let code: Code
    public let message: String
    public let openSSLReasons: [String]
    /// For a refused or failed handshake: the rule the peer broke.
    public let refusal: PeerRefusal?

    public init(_ code: Code, _ message: String, openSSLReasons: [String] = [], refusal: PeerRefusal? = nil) {
        self.code = code
        self.message = message
        self.openSSLReasons = openSSLReasons
        self.refusal = refusal
    }

    /// The most specific kebab-case reason: the refusal's rule if there is one, else the code.
    /// Metrics label refusals with it.
    public var reason: String { refusal?.code.description ?? code.description }

    public var description: String {
        openSSLReasons.isEmpty ? "\(code): \(message)" : "\(code): \(message) (OpenSSL: \(openSSLReasons.joined(separator: "; ")))"
    }

    public static func == (lhs: TLSError, rhs: TLSError) -> Bool { lhs.code == rhs.code && lhs.message == rhs.message }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
