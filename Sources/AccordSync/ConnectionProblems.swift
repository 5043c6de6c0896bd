public import AccordModel
import AccordTLS
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers

/// The last thing that went wrong with a connection to or from a peer, kept so that an operator
/// who sees "not connected" can read why: refused here (and by which rule), refused by the peer,
/// or never reached.
public struct ConnectionProblem: Hashable, Sendable {
    /// Which side decided the connection would not become a session.
    public enum Origin: String, Hashable, Sendable {
        /// This node refused the peer (its certificate, its hello, a local limit).
        case here = "refused-here"
        /// The peer refused this node (a TLS alert, an `error` frame).
        case peer = "refused-by-peer"
        /// Nobody refused anything: the peer could not be reached or stopped answering.
        case network
    }

    public let direction: SessionDirection
    public let origin: Origin
    /// The kebab-case reason, as the refusal metrics label it.
    public let reason: String
    public let message: String
    public let atMillis: UInt64

    public init(direction: SessionDirection, origin: Origin, reason: String, message: String, atMillis: UInt64) {
        self.direction = direction
        self.origin = origin
        self.reason = reason
        self.message = message
        self.atMillis = atMillis
    }

    /// The problem `error` stands for, on a connection in `direction`.
    public init(_ error: any Error, direction: SessionDirection, atMillis: UInt64) {
        let origin: Origin
        var reason = ConnectionRefusal.reason(of: error)
        var message = "\(error)"
        switch error {
        case let error as TLSError:
            if let refusal = error.refusal {
                origin = refusal.code == .refusedByPeer ? .peer : .here
            } else {
                origin = [.handshakeTimeout, .disconnectedDuringHandshake, .uncleanShutdown].contains(error.code) ? .network : .here
            }
        case let error as SessionError:
            origin = error.fromPeer ? .peer : .here
        case is ConnectionRefusal, is PeerNotReading, is FrameError:
            origin = .here
        default:
            if let (name, text) = Self.networkFailure(error) {
                origin = .network
                reason = name
                message = text
            } else {
                origin = .here
            }
        }
        self.init(direction: direction, origin: origin, reason: reason, message: message, atMillis: atMillis)
    }

    /// A failure to connect, named and said in words (never a Swift type's name).
    private static func networkFailure(_ error: any Error) -> (String, String)? {
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return networkFailure(first.error) }
            if error.dnsAAAAError != nil || error.dnsAError != nil { return ("unresolvable", "the peer's host name did not resolve") }
            return ("unreachable", "no address of the peer could be reached")
        }
        if let error = error as? IOError {
            let code = error.errnoCode
            let text = String(cString: strerror(code))
            switch code {
            case ECONNREFUSED: return ("connection-refused", "connection refused (nothing listens at the peer's address)")
            case ETIMEDOUT: return ("connect-timeout", text)
            case EHOSTUNREACH, ENETUNREACH: return ("unreachable", text)
            default: return ("connect-failed", text)
            }
        }
        if let error = error as? ChannelError, case .connectTimeout(let timeout) = error {
            return ("connect-timeout", "the peer did not accept the connection within \(timeout)")
        }
        return nil
    }
}

/// Whose connection problem: a node named by its certificate, or a configured address whose
/// node was never reached.
public enum ConnectionSubject: Hashable, Sendable {
    case node(NodeID)
    case endpoint(PeerEndpoint)
}

/// The last problem of each peer node and configured address, bounded: a stranger with valid
/// certificates of many names cannot make it grow beyond `capacity` (the oldest is dropped).
final class ConnectionProblems: Sendable {
    static let capacity = 512
    private let problems = NIOLockedValueBox<[ConnectionSubject: ConnectionProblem]>([:])

    func record(_ problem: ConnectionProblem, for subject: ConnectionSubject) {
        problems.withLockedValue { problems in
            problems[subject] = problem
            if problems.count > Self.capacity, let oldest = problems.min(by: { $0.value.atMillis < $1.value.atMillis })?.key {
                problems[oldest] = nil
            }
        }
    }

    var all: [ConnectionSubject: ConnectionProblem] { problems.withLockedValue { $0 } }
}
