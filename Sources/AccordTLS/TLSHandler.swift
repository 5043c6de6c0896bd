import AccordCrypto
public import NIOCore

/// TLS 1.3 over the system OpenSSL for one SwiftNIO channel, in either role, with mutual
/// authentication. `OpenSSLConnection` does the cryptography; this type is the NIO lifecycle
/// around it, a state machine whose states carry their data.
///
/// Plaintext is decrypted only when the pipeline asks to read, and the socket is read only on
/// such a request, so at most one socket read cycle waits here and a consumer that stops reading
/// stops the peer (TCP flow control) instead of filling memory. Received buffers wait in a queue
/// and are fed to OpenSSL about two records at a time: a BIO that grew to a whole read cycle
/// would be reallocated beyond malloc's mmap threshold and unmapped again on every cycle
/// (measured: a third of bulk throughput). Application writes are encrypted as they come, in
/// chunks of at most 48 KiB, and handed down unflushed, so the channel's writability reflects them.
///
/// Events up the pipeline: `TLSEvent.handshakeCompleted(PeerIdentity)` once the peer's
/// certificate passed every check, `TLSEvent.closeNotifyReceived`, and `TLSError`s through
/// `errorCaught` (refused peer, timeout, unclean shutdown), after which the channel is closed.
public final class TLSHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    public enum Role: Sendable {
        case client
        case server
    }

    /// Writes made before the handshake completed, replayed once it has.
    private struct EarlyWrites {
        var writes: CircularBuffer<(ByteBuffer, EventLoopPromise<Void>?)> = []
        var bytes = 0
        var flushRequested = false

        mutating func failAll(_ error: TLSError) {
            while let (_, promise) = writes.popFirst() { promise?.fail(error) }
            bytes = 0
        }
    }

    private enum State {
        /// The channel is not active yet.
        case waitingForActive(EarlyWrites)
        /// The handshake runs until it completes or `timer` fires.
        case handshaking(timer: Scheduled<Void>, early: EarlyWrites)
        /// Data flows; `readRequested` is a read the pipeline asked for and has not been served.
        case active(readRequested: Bool)
        /// close_notify sent; the peer's is awaited until `timer` fires; `promise` is the close's.
        case closing(timer: Scheduled<Void>?, promise: EventLoopPromise<Void>?)
        case closed
    }

    /// Three records: their ciphertext (~49 KiB) fits a 64 KiB buffer. At 64 KiB of plaintext the
    /// ciphertext buffer would round up to 128 KiB, which malloc serves with mmap and munmap on
    /// every chunk (measured: 30 % of bulk throughput).
    private static let writeChunk = 48 * 1024
    private static let readChunk = 16 * 1024
    /// Decrypted records are gathered into buffers of this size before they go up.
    private static let plaintextBuffer = 64 * 1024
    /// OpenSSL's read BIO is topped up to about this much ciphertext (two maximum-size records).
    private static let readBIOFill = 34 * 1024

    private let configuration: TLSConfiguration
    private let connection: OpenSSLConnection
    private var state = State.waitingForActive(EarlyWrites())
    /// Ciphertext received but not yet given to OpenSSL.
    private var receivedCiphertext: CircularBuffer<ByteBuffer> = []

    /// The verified peer, once the handshake completed.
    public private(set) var peer: PeerIdentity?

    public init(context: TLSContext, role: Role, policy: PeerPolicy = .anyMember) throws(TLSError) {
        configuration = context.configuration
        connection = try OpenSSLConnection(context: context, role: role, policy: policy)
    }

    /// A client of the web server `serverName` (an identity provider): its certificate is
    /// verified against `context`'s trusted roots and must hold that name.
    public init(web context: WebTLSContext, serverName: String) throws(TLSError) {
        configuration = context.configuration
        connection = try OpenSSLConnection(web: context, serverName: serverName)
    }

    // MARK: - Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHandshake(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        let error = TLSError(.closed, "the TLS handler was removed")
        enterClosed(failing: error)?.fail(error)
    }

    public func channelActive(context: ChannelHandlerContext) {
        startHandshake(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        switch state {
        case .active:
            context.fireErrorCaught(TLSError(
                .uncleanShutdown,
                "\(peer.map { "peer \($0)" } ?? "the peer") closed the connection without close_notify; data may have been truncated"
            ))
        case .handshaking:
            let refusal = connection.refusal
            context.fireErrorCaught(TLSError(
                .disconnectedDuringHandshake, "the peer disconnected during the TLS handshake\(refusal.map { ": \($0)" } ?? "")",
                refusal: refusal
            ))
        case .waitingForActive, .closing, .closed:
            break
        }
        let promise = enterClosed(failing: TLSError(.closed, "the connection closed"))
        promise?.succeed(())
        context.fireChannelInactive()
    }

    private func startHandshake(context: ChannelHandlerContext) {
        guard case .waitingForActive(let early) = state else { return }
        let timeout = configuration.handshakeTimeout
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard case .handshaking = state else { return }
            fail(context: context, TLSError(.handshakeTimeout, "the peer did not complete the TLS handshake within \(timeout)"))
        }
        state = .handshaking(timer: timer, early: early)
        advanceHandshake(context: context)
    }

    // MARK: - Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let ciphertext = unwrapInboundIn(data)
        if ciphertext.readableBytes > 0 { receivedCiphertext.append(ciphertext) }
        switch state {
        case .handshaking: advanceHandshake(context: context)
        case .active(readRequested: true): deliverPlaintext(context: context)
        case .closing: awaitCloseNotify(context: context)
        case .active(readRequested: false), .waitingForActive, .closed: break
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        // Plaintext deliveries fire their own read-complete; ciphertext arrival alone is not news.
    }

    /// Moves queued ciphertext into OpenSSL until it holds about `readBIOFill` bytes. Returns
    /// whether anything was moved.
    @discardableResult
    private func feedOpenSSL() -> Bool {
        var moved = false
        while connection.bufferedCiphertext < Self.readBIOFill, var buffer = receivedCiphertext.popFirst() {
            moved = connection.feed(&buffer, upTo: Self.readBIOFill) > 0 || moved
            if buffer.readableBytes > 0 {
                receivedCiphertext.prepend(buffer)
                break
            }
        }
        return moved
    }

    /// Whether anything received is still waiting to be decrypted.
    private var hasUndecryptedInput: Bool {
        !receivedCiphertext.isEmpty || connection.bufferedCiphertext > 0 || connection.bufferedPlaintext > 0
    }

    private func advanceHandshake(context: ChannelHandlerContext) {
        while true {
            feedOpenSSL()
            let step = connection.handshake()
            // The handshake flight, or the alert OpenSSL leaves after a failure: the peer must see it.
            sendPendingCiphertext(context: context)
            switch step {
            case .complete(let identity):
                return completeHandshake(context: context, peer: identity)
            case .needsInput where !receivedCiphertext.isEmpty:
                continue
            case .needsInput:
                // The handshake is this handler's own business: keep reading even when the
                // application has turned auto-read off.
                return context.read()
            case .failed(let error):
                return fail(context: context, error)
            }
        }
    }

    private func completeHandshake(context: ChannelHandlerContext, peer identity: PeerIdentity?) {
        guard case .handshaking(let timer, var early) = state else { return }
        timer.cancel()
        peer = identity
        state = .active(readRequested: false)
        if let identity { context.fireUserInboundEventTriggered(TLSEvent.handshakeCompleted(identity)) }
        while case .active = state, let (buffer, promise) = early.writes.popFirst() {
            encrypt(buffer, promise: promise, context: context)
        }
        if case .active = state, early.flushRequested { context.flush() }
        // The peer's first data may have come in the same read as its last handshake message: it
        // waits, decrypted on the pipeline's next read request.
    }

    /// Decrypts and hands up everything OpenSSL can decrypt from what was received (at most one
    /// socket read cycle).
    private func deliverPlaintext(context: ChannelHandlerContext) {
        var delivered = 0
        /// Small messages get a small buffer; bulk data fills 64 KiB ones.
        func newBuffer() -> ByteBuffer {
            let waiting = receivedCiphertext.reduce(connection.bufferedCiphertext) { $0 + $1.readableBytes }
            return context.channel.allocator.buffer(capacity: min(Self.plaintextBuffer, max(Self.readChunk, waiting)))
        }
        var buffer = newBuffer()
        func handUp() {
            guard buffer.readableBytes > 0 else { return }
            delivered += buffer.readableBytes
            context.fireChannelRead(wrapInboundOut(buffer))
            buffer = newBuffer()
        }
        reading: while case .active = state {
            // Several records go into one buffer: fewer allocations and fewer reads up the pipeline.
            if buffer.writableBytes < Self.readChunk { handUp() }
            switch connection.read(into: &buffer, maximum: Self.readChunk) {
            case .bytes:
                continue
            case .needsInput:
                if feedOpenSSL() { continue }
                break reading
            case .closeNotify:
                handUp()
                if delivered > 0 { context.fireChannelReadComplete() }
                return peerClosedCleanly(context: context)
            case .failed(let error):
                sendPendingCiphertext(context: context)
                return fail(context: context, error)
            }
        }
        guard case .active = state else { return }
        handUp()
        // Reading may have produced handshake messages (key updates) to answer.
        sendPendingCiphertext(context: context)
        if delivered > 0 {
            state = .active(readRequested: false)
            context.fireChannelReadComplete()
        }
    }

    // MARK: - Outbound

    public func read(context: ChannelHandlerContext) {
        guard case .active = state else { return context.read() }
        state = .active(readRequested: true)
        if hasUndecryptedInput { deliverPlaintext(context: context) }
        // Everything buffered went up; one more socket read cycle may come in, to be handed up on
        // the next request.
        if case .active = state { context.read() }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch state {
        case .active:
            encrypt(buffer, promise: promise, context: context)
        case .waitingForActive(var early):
            guard hold(buffer, promise, in: &early) else { return }
            state = .waitingForActive(early)
        case .handshaking(let timer, var early):
            guard hold(buffer, promise, in: &early) else { return }
            state = .handshaking(timer: timer, early: early)
        case .closing, .closed:
            promise?.fail(TLSError(.closed, "the TLS connection is closing"))
        }
    }

    /// Keeps a write made before the handshake completed, within the configured bound.
    private func hold(_ buffer: ByteBuffer, _ promise: EventLoopPromise<Void>?, in early: inout EarlyWrites) -> Bool {
        let limit = configuration.maximumBufferedPlaintextBytes
        guard early.bytes + buffer.readableBytes <= limit else {
            promise?.fail(TLSError(.bufferLimitExceeded, "more than \(limit) bytes written before the TLS handshake completed"))
            return false
        }
        early.bytes += buffer.readableBytes
        early.writes.append((buffer, promise))
        return true
    }

    public func flush(context: ChannelHandlerContext) {
        switch state {
        case .active: context.flush()
        case .waitingForActive(var early):
            early.flushRequested = true
            state = .waitingForActive(early)
        case .handshaking(let timer, var early):
            early.flushRequested = true
            state = .handshaking(timer: timer, early: early)
        case .closing, .closed: break
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .all else {
            promise?.fail(ChannelError.operationUnsupported)
            return
        }
        switch state {
        case .active:
            connection.shutdown()
            sendPendingCiphertext(context: context)
            let timeout = configuration.closeTimeout
            let timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                finishClose(context: context)
            }
            state = .closing(timer: timer, promise: promise)
            context.read()
        case .closing(let timer, let existing):
            if let promise, let existing { existing.futureResult.cascade(to: promise) }
            state = .closing(timer: timer, promise: existing ?? promise)
        case .waitingForActive, .handshaking:
            enterClosed(failing: TLSError(.closed, "closed before the TLS handshake completed"))
            context.close(mode: mode, promise: promise)
        case .closed:
            context.close(mode: mode, promise: promise)
        }
    }

    // MARK: - Helpers

    private func encrypt(_ plaintext: ByteBuffer, promise: EventLoopPromise<Void>?, context: ChannelHandlerContext) {
        guard plaintext.readableBytes > 0 else {
            promise?.succeed(())
            return
        }
        var remaining = plaintext
        while let chunk = remaining.readSlice(length: min(Self.writeChunk, remaining.readableBytes)) {
            if let error = connection.write(chunk) {
                promise?.fail(error)
                return fail(context: context, error)
            }
            let last = remaining.readableBytes == 0
            context.write(wrapOutboundOut(connection.takeCiphertext(context.channel.allocator)), promise: last ? promise : nil)
            if last { return }
        }
    }

    /// Moves whatever OpenSSL produced to the socket, flushed.
    private func sendPendingCiphertext(context: ChannelHandlerContext) {
        guard connection.pendingCiphertext > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(connection.takeCiphertext(context.channel.allocator)), promise: nil)
    }

    /// While closing, reads only to find the peer's close_notify; its data is discarded.
    private func awaitCloseNotify(context: ChannelHandlerContext) {
        while true {
            feedOpenSSL()
            switch connection.discardUntilCloseNotify() {
            case .closeNotify: return finishClose(context: context)
            case .needsInput where !receivedCiphertext.isEmpty: continue
            case .needsInput, .failed, .bytes: return
            }
        }
    }

    private func peerClosedCleanly(context: ChannelHandlerContext) {
        context.fireUserInboundEventTriggered(TLSEvent.closeNotifyReceived)
        guard case .active = state else { return }
        connection.shutdown()
        sendPendingCiphertext(context: context)
        state = .closing(timer: nil, promise: nil)
        finishClose(context: context)
    }

    private func finishClose(context: ChannelHandlerContext) {
        guard case .closing = state else { return }
        let promise = enterClosed(failing: TLSError(.closed, "the connection closed"))
        context.close(promise: promise)
    }

    private func fail(context: ChannelHandlerContext, _ error: TLSError) {
        if case .closed = state { return }
        let promise = enterClosed(failing: error)
        context.fireErrorCaught(error)
        context.close(promise: promise)
    }

    /// Moves to `closed`: cancels the timers, fails writes still held, and returns the pending
    /// close's promise for the caller to complete.
    @discardableResult
    private func enterClosed(failing error: TLSError) -> EventLoopPromise<Void>? {
        var promise: EventLoopPromise<Void>?
        switch state {
        case .waitingForActive(var early):
            early.failAll(error)
        case .handshaking(let timer, var early):
            timer.cancel()
            early.failAll(error)
        case .closing(let timer, let closing):
            timer?.cancel()
            promise = closing
        case .active, .closed:
            break
        }
        state = .closed
        return promise
    }
}

@available(*, unavailable)
extension TLSHandler: Sendable {}
