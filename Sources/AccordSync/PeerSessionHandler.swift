public import AccordModel
public import AccordTLS
public import NIOCore

/// Events a session sends up the pipeline.
public enum SessionEvent: Sendable {
    /// Both hellos were exchanged and accepted: the peer is `node` of the organisation its
    /// certificate names, speaking `version`. Only now may agreement data flow.
    case established(node: NodeID, version: UInt16)
}

/// The peer of an established session, as its hello named it and its certificate proved.
public struct EstablishedPeer: Sendable {
    public let node: NodeID
    public let version: UInt16
    /// The certificate the TLS handshake verified.
    public let identity: PeerIdentity
}

/// Why a session was ended by this side.
public struct SessionError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: UInt16, Sendable {
        case protocolViolation = 1
        case identityMismatch = 2
        case versionMismatch = 3
        case malformedFrame = 4
        /// The peer sent more changes with bad signatures than a session tolerates.
        case forgedChanges = 5
        /// The peer broke the protocol recently and is refused for a while (`PeerPenalties`).
        case temporarilyRefused = 6
        /// The dialling side already has a session with the node it reached (that node dialled
        /// first): it ends the new connection before either hello, so the working session stays.
        case alreadyInSession = 7
    }

    public let code: Code
    public let message: String
    /// The peer sent it (an `error` frame): the peer refused this node, not the other way round.
    public let fromPeer: Bool

    public init(_ code: Code, _ message: String, fromPeer: Bool = false) {
        self.code = code
        self.message = message
        self.fromPeer = fromPeer
    }

    public var description: String { "\(reason): \(message)" }

    /// The code as a kebab-case reason, as metrics and logs name it.
    public var reason: String {
        switch code {
        case .protocolViolation: "protocol-violation"
        case .identityMismatch: "identity-mismatch"
        case .versionMismatch: "version-mismatch"
        case .malformedFrame: "malformed-frame"
        case .forgedChanges: "forged-changes"
        case .temporarilyRefused: "temporarily-refused"
        case .alreadyInSession: "already-in-session"
        }
    }
}

/// The application-level start of a session (docs/protocol.md, "Session start"): after the TLS
/// handshake each side sends `hello`; a hello whose organisation or node differs from the
/// certificate the TLS layer verified is refused with an `error` frame and the connection closed.
/// Sits after the frame codec; passes every message after establishment up the pipeline.
public final class PeerSessionHandler: ChannelDuplexHandler {
    public typealias InboundIn = WireMessage
    public typealias InboundOut = WireMessage
    public typealias OutboundIn = WireMessage
    public typealias OutboundOut = WireMessage

    /// 1: the protocol of docs/protocol.md; 2 adds coded symbols to reconciliation; 3 adds
    /// attributions (who made a change) beside changes; 4 adds approvers' passkey signatures
    /// beside approvals; 5 adds the edits of trust rules 6-9 (fulfilment, void, removal, notice)
    /// and the terms they extend. A node syncs with one of an older version over the older
    /// version, and sends it no change it could not read (nor any after it in that agreement).
    public static let supportedVersions: ClosedRange<UInt16> = 1...5

    private enum State {
        case awaitingTLS, awaitingHellos(sentAccept: Bool, receivedAccept: Bool), established, closed
    }

    private let localNode: NodeID
    /// The versions this side offers and accepts: `supportedVersions`, or others in tests of
    /// the negotiation.
    private let versions: ClosedRange<UInt16>
    private let clock: @Sendable () -> UInt64
    private let frameLimit: FrameLimit?
    private var state = State.awaitingTLS
    private var peerIdentity: PeerIdentity?
    private var peerNode: NodeID?
    private var agreedVersion: UInt16 = 0
    private var established: EventLoopPromise<EstablishedPeer>?
    /// Asked once the TLS handshake has named the peer, before this side's hello: a refusal is
    /// sent as an `error` frame instead, and the connection closed.
    private let precheck: ((PeerIdentity) -> SessionError?)?
    /// The nonce of the latest ping of the current read cycle, answered when the cycle ends: a
    /// burst of pings gets one pong, so what a peer makes this node write never outgrows what it
    /// sends (and `OutboundFlowControl` stops reading while the peer does not read).
    private var unansweredPing: UInt64?

    /// - Parameters:
    ///   - localNode: this node, as its certificate names it.
    ///   - clock: Unix milliseconds, for the hello (operators see the peers' clock skew).
    ///   - frameLimit: the connection's frame limit, raised to `FrameLimit.established` once the
    ///     session is established.
    ///   - established: completed when the session is established, failed if it ends before.
    ///   - versions: the protocol versions offered.
    ///   - precheck: asked on the event loop once the TLS handshake named the peer; a refusal
    ///     ends the connection before this side's hello.
    public init(
        localNode: NodeID, clock: @escaping @Sendable () -> UInt64, frameLimit: FrameLimit? = nil,
        established: EventLoopPromise<EstablishedPeer>? = nil, versions: ClosedRange<UInt16> = PeerSessionHandler.supportedVersions,
        precheck: ((PeerIdentity) -> SessionError?)? = nil
    ) {
        self.localNode = localNode
        self.versions = versions
        self.clock = clock
        self.frameLimit = frameLimit
        self.established = established
        self.precheck = precheck
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        failEstablished(SessionError(.protocolViolation, "the connection ended before the session was established"))
    }

    public func channelInactive(context: ChannelHandlerContext) {
        failEstablished(SessionError(.protocolViolation, "the connection ended before the session was established"))
        context.fireChannelInactive()
    }

    private func failEstablished(_ error: any Error) {
        established?.fail(error)
        established = nil
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let identity) = event as? TLSEvent, case .awaitingTLS = state {
            peerIdentity = identity
            state = .awaitingHellos(sentAccept: false, receivedAccept: false)
            if let refusal = precheck?(identity) {
                refuse(context: context, refusal)
                context.fireUserInboundEventTriggered(event)
                return
            }
            let hello = WireMessage.Hello(
                minimumVersion: versions.lowerBound, maximumVersion: versions.upperBound,
                node: localNode, clockMillis: clock()
            )
            context.writeAndFlush(wrapOutboundOut(.hello(hello)), promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        switch (state, message) {
        case (.established, .ping(let nonce)):
            unansweredPing = nonce
        case (.established, .hello), (.established, .helloAccepted):
            refuse(context: context, SessionError(.protocolViolation, "a second hello in an established session"))
        case (.established, .attributions) where agreedVersion < 3:
            refuse(context: context, SessionError(.protocolViolation, "attributions are part of protocol version 3; this session speaks \(agreedVersion)"))
        case (.established, .passkeySignatures) where agreedVersion < 4:
            refuse(
                context: context, SessionError(.protocolViolation, "passkey signatures are part of protocol version 4; this session speaks \(agreedVersion)")
            )
        case (.established, _):
            context.fireChannelRead(data)
        case (.awaitingHellos(let sentAccept, let receivedAccept), .hello(let hello)) where !sentAccept:
            guard let version = acceptable(hello, context: context) else { return }
            agreedVersion = version
            context.writeAndFlush(wrapOutboundOut(.helloAccepted(version: version)), promise: nil)
            advance(context: context, sentAccept: true, receivedAccept: receivedAccept)
        case (.awaitingHellos(let sentAccept, let receivedAccept), .helloAccepted(let version)) where !receivedAccept:
            guard versions.contains(version) else {
                refuse(context: context, SessionError(.versionMismatch, "the peer chose version \(version), which this node does not speak"))
                return
            }
            advance(context: context, sentAccept: sentAccept, receivedAccept: true)
        case (_, .error(let code, let text)):
            let error =
                code == SessionError.Code.alreadyInSession.rawValue
                ? SessionError(.alreadyInSession, "the peer has a session with this node already: \(text)", fromPeer: true)
                : SessionError(.protocolViolation, "the peer ended the session with error \(code): \(text)", fromPeer: true)
            failEstablished(error)
            context.fireErrorCaught(error)
            state = .closed
            context.close(promise: nil)
        case (.closed, _):
            break
        default:
            refuse(context: context, SessionError(.protocolViolation, "\(message.kind) before the session was established"))
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if let nonce = unansweredPing, case .established = state {
            unansweredPing = nil
            context.writeAndFlush(wrapOutboundOut(.pong(nonce: nonce)), promise: nil)
        }
        context.fireChannelReadComplete()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? FrameError {
            refuse(context: context, SessionError(.malformedFrame, frameError.description))
            return
        }
        // Before the session exists, the first error (a refused certificate, a timeout) is why
        // it never will: the connection's owner logs and counts that reason.
        failEstablished(error)
        context.fireErrorCaught(error)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .established = state else {
            promise?.fail(SessionError(.protocolViolation, "no data may be sent before the session is established"))
            return
        }
        context.write(data, promise: promise)
    }

    /// Checks a hello against the verified certificate; refuses and returns nil if it fails.
    private func acceptable(_ hello: WireMessage.Hello, context: ChannelHandlerContext) -> UInt16? {
        guard let identity = peerIdentity else { return nil }
        guard hello.node.organisation.rawValue == identity.organisation, hello.node.name == identity.nodeName else {
            refuse(context: context, SessionError(
                .identityMismatch,
                "the hello claims \(hello.node) but the certificate is \(identity.organisation)/\(identity.nodeName)"
            ))
            return nil
        }
        let highest = min(hello.maximumVersion, versions.upperBound)
        guard highest >= max(hello.minimumVersion, versions.lowerBound) else {
            refuse(context: context, SessionError(
                .versionMismatch,
                "the peer speaks versions \(hello.minimumVersion)...\(hello.maximumVersion), this node \(versions)"
            ))
            return nil
        }
        peerNode = hello.node
        return highest
    }

    private func advance(context: ChannelHandlerContext, sentAccept: Bool, receivedAccept: Bool) {
        guard sentAccept, receivedAccept, let peerNode else {
            state = .awaitingHellos(sentAccept: sentAccept, receivedAccept: receivedAccept)
            return
        }
        state = .established
        frameLimit?.maximumFrameBytes = FrameLimit.established
        if let peerIdentity {
            established?.succeed(EstablishedPeer(node: peerNode, version: agreedVersion, identity: peerIdentity))
            established = nil
        }
        context.fireUserInboundEventTriggered(SessionEvent.established(node: peerNode, version: agreedVersion))
    }

    /// Tells the peer why, reports it up the pipeline, and closes.
    private func refuse(context: ChannelHandlerContext, _ error: SessionError) {
        if case .closed = state { return }
        state = .closed
        failEstablished(error)
        context.writeAndFlush(wrapOutboundOut(.error(code: error.code.rawValue, message: error.message)), promise: nil)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension PeerSessionHandler: Sendable {}
