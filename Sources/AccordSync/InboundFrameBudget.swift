public import NIOCore

/// How much control work (everything but the changes themselves) a peer may ask of this node
/// per second, with a burst for reconciliation rounds.
public struct FrameBudget: Hashable, Sendable {
    /// Cost units refilled per second.
    public var rate: Double
    /// The most cost units a session may save up.
    public var burst: Double

    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// What one frame costs, in units of about one store lookup: 1, plus 1 per agreement or item
    /// it makes this node look up, 1 per 8 ranges or head ids, 8 per certificate to check; a
    /// frame that starts work of its own (a reconciliation round, a heads query) at least 4 or 8.
    /// A change costs a quarter: it is looked up before its signature is checked, so a replay
    /// costs a lookup, while forgeries end the session after 64. An honest round that finds
    /// 30,000 differences costs about 60,000 (six seconds at the default rate); catching up
    /// 100,000 changes about 25,000; a keepalive 1 per interval.
    public static func cost(of message: WireMessage) -> Double {
        switch message {
        case .changes(_, let changes): 1 + Double(changes.count) / 4
        case .heads(let heads): 4 + Double(heads.entries.count) + Double(heads.entries.reduce(0) { $0 + $1.heads.count }) / 8
        case .reconcile(let reconcile):
            8 + reconcile.ranges.reduce(0.0) { total, range in
                if case .items(let items, _) = range.claim { total + 1.0 / 8 + Double(items.count) } else { total + 1.0 / 8 }
            }
        case .certificates(let certificates): 1 + 8 * Double(certificates.count)
        // Each is checked (a signature) only if the next batch holds its change.
        case .attributions(let attributions): 1 + Double(attributions.count) / 4
        // Three signatures each (the node's, the passkey's, and the key's parse).
        case .passkeySignatures(let signatures): 1 + Double(signatures.count)
        case .hello, .helloAccepted, .error, .ping, .pong, .acknowledged, .reconcileRequest: 1
        }
    }
}

/// Spends a session's `FrameBudget` on every frame it receives; once the budget is spent, it
/// stops reading until it has refilled. A peer that floods control frames (pings, heads of
/// made-up agreements, reconcile messages) thus gets at most `rate` units of work a second out of
/// this node — and since nothing more is read, TCP stops the peer too: the flood costs both
/// sides little. Honest peers stay far within the budget.
///
/// Sits after the frame decoder, on the connection's event loop. What one socket read brings is
/// still decoded whole (at most the TLS handler's one read cycle); the deficit it leaves is paid
/// for by waiting.
public final class InboundFrameBudget: ChannelDuplexHandler {
    public typealias InboundIn = WireMessage
    public typealias InboundOut = WireMessage
    public typealias OutboundIn = WireMessage
    public typealias OutboundOut = WireMessage

    private let budget: FrameBudget
    private var tokens: Double
    /// When the tokens were last refilled, by the event loop's clock; nil until the handler is added.
    private var refilled: NIODeadline?
    private var readHeld = false
    private var timer: Scheduled<Void>?

    public init(_ budget: FrameBudget) {
        self.budget = budget
        self.tokens = budget.burst
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        refill(context)
        tokens -= FrameBudget.cost(of: unwrapInboundIn(data))
        context.fireChannelRead(data)
    }

    public func read(context: ChannelHandlerContext) {
        refill(context)
        guard tokens < 0 else { return context.read() }
        readHeld = true
        guard timer == nil else { return }
        let wait = TimeAmount.nanoseconds(Int64(-tokens / budget.rate * 1e9) + 1)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: wait) { [self] in
            timer = nil
            guard readHeld else { return }
            readHeld = false
            read(context: context)
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    private func refill(_ context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        if let refilled { tokens = min(budget.burst, tokens + Double((now - refilled).nanoseconds) / 1e9 * budget.rate) }
        refilled = now
    }
}

@available(*, unavailable)
extension InboundFrameBudget: Sendable {}
