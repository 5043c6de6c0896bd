import AccordTLS

/// Why this node refused or dropped a connection for reasons of its own (not a rule the peer's
/// certificate or hello broke, which `TLSError` and `SessionError` carry).
public struct ConnectionRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// Newer connections needed its slot in the pending-connection budget.
        public static let evicted = Code("evicted")
        /// TLS and both hellos did not complete within `sessionStartTimeout`.
        public static let sessionStartTimeout = Code("session-start-timeout")
        /// `maximumSessions` sessions were established already.
        public static let tooManySessions = Code("too-many-sessions")
        /// The node was recently closed for forged changes and is refused for a while.
        public static let quarantined = Code("quarantined")

        public var description: String { name }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// The kebab-case reason of any error that ends a connection or a session, for the `reason`
    /// label of the refusal and session metrics and the `reason` field of the log line: the most
    /// specific rule known (a certificate rule, a session-start rule, a local limit).
    public static func reason(of error: any Error) -> String {
        switch error {
        case let error as TLSError: error.reason
        case let error as SessionError: error.reason
        case let error as ConnectionRefusal: error.code.description
        case is PeerNotReading: "peer-not-reading"
        case is FrameError: "malformed-frame"
        case is CancellationError: "shutdown"
        default: "other"
        }
    }
}
