public import AccordCrypto
public import Foundation

/// Who is at the other end of an authenticated connection, read from its certificate after the
/// handshake verified it against the consortium CA.
public struct PeerIdentity: Hashable, Sendable, CustomStringConvertible {
    public let certificate: Certificate

    /// The Subject `O`: the organisation Accord authorises.
    public var organisation: String { certificate.organisation }
    /// The Subject `CN`: the node's name within its organisation.
    public var nodeName: String { certificate.commonName }
    public var fingerprint: SHA256Digest { certificate.fingerprint }
    public var notBefore: Date { certificate.notBefore }
    public var notAfter: Date { certificate.notAfter }

    public var description: String { "\(organisation)/\(nodeName) [sha256 \(fingerprint.hex.prefix(16))…]" }
}

/// Events the TLS handler sends up the pipeline (`userInboundEventTriggered`).
public enum TLSEvent: Sendable {
    /// The handshake completed and the peer's certificate passed every check. Application data
    /// may flow; until an application-level hello confirms the session, treat it as tentative
    /// (in TLS 1.3 a client learns that the server refused *its* certificate only here or later).
    case handshakeCompleted(PeerIdentity)
    /// The peer sent close_notify: its data ended cleanly. The handler answers and closes.
    case closeNotifyReceived
}
