import AccordCrypto
internal import COpenSSL
import COpenSSLShim
public import NIOCore

/// TLS 1.3 over the system OpenSSL for one SwiftNIO channel, in either role, with mutual
/// authentication.
///
/// Ciphertext moves through two OpenSSL memory BIOs. Plaintext is decrypted only when the pipeline
/// asks to read, and the socket is read only on such a request, so at most one socket read cycle
/// waits here and a consumer that stops reading stops the peer (TCP flow control) instead of
/// filling memory. Received buffers wait in a queue and are fed to the read BIO about two records
/// at a time: a BIO that grew to a whole read cycle would be reallocated beyond malloc's mmap
/// threshold and unmapped again on every cycle (measured: a third of bulk throughput).
/// Application writes are encrypted as they come in chunks of at most 48 KiB and handed down
/// unflushed, so the channel's writability reflects them.
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

    private enum State {
        case waitingForActive, handshaking, active, closing, closed
    }

    /// Three records: their ciphertext (~49 KiB) fits a 64 KiB buffer. At 64 KiB of plaintext the
    /// ciphertext buffer would round up to 128 KiB, which malloc serves with mmap and munmap on
    /// every chunk (measured: 30 % of bulk throughput).
    private static let writeChunk = 48 * 1024
    private static let readChunk = 16 * 1024
    /// Decrypted records are gathered into buffers of this size before they go up.
    private static let plaintextBuffer = 64 * 1024
    /// The read BIO is topped up to about this much ciphertext (two maximum-size records).
    private static let readBIOFill = 34 * 1024

    private let tlsContext: TLSContext
    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private let verification: PeerVerification
    private var state = State.waitingForActive
    private var handshakeTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    private var closePromise: EventLoopPromise<Void>?
    private var pendingWrites: CircularBuffer<(ByteBuffer, EventLoopPromise<Void>?)> = []
    /// Ciphertext received but not yet given to OpenSSL.
    private var receivedCiphertext: CircularBuffer<ByteBuffer> = []
    private var pendingWriteBytes = 0
    private var flushPending = false
    private var readRequested = false
    private var receivedCloseNotify = false

    /// The verified peer, once the handshake completed.
    public private(set) var peer: PeerIdentity?

    public init(context: TLSContext, role: Role, policy: PeerPolicy = .anyMember) throws(TLSError) {
        tlsContext = context
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context.pointer), let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            throw TLSError(.configuration, "OpenSSL could not create a connection", openSSLReasons: OpenSSLErrorQueue.drain())
        }
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        accord_BIO_set_mem_eof_return(readBIO, -1)
        // The SSL owns both BIOs from here on and frees them in SSL_free.
        SSL_set_bio(ssl, readBIO, writeBIO)
        switch role {
        case .client: SSL_set_connect_state(ssl)
        case .server: SSL_set_accept_state(ssl)
        }
        verification = PeerVerification(policy: policy, pins: context.configuration.pinnedFingerprints)
        SSL_set_ex_data(ssl, verificationSlot, Unmanaged.passRetained(verification).toOpaque())
    }

    deinit {
        SSL_set_ex_data(ssl, verificationSlot, nil)
        Unmanaged.passUnretained(verification).release()
        SSL_free(ssl)
    }

    // MARK: - Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHandshake(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        failPendingWrites(TLSError(.closed, "the TLS handler was removed"))
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
            let reason = verification.failure.map { ": \($0)" } ?? ""
            context.fireErrorCaught(TLSError(
                .disconnectedDuringHandshake, "the peer disconnected during the TLS handshake\(reason)", refusal: verification.failure
            ))
        case .waitingForActive, .closing, .closed:
            break
        }
        state = .closed
        cancelTimers()
        failPendingWrites(TLSError(.closed, "the connection closed"))
        closePromise?.succeed(())
        closePromise = nil
        context.fireChannelInactive()
    }

    private func startHandshake(context: ChannelHandlerContext) {
        guard case .waitingForActive = state else { return }
        state = .handshaking
        let timeout = tlsContext.configuration.handshakeTimeout
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard case .handshaking = state else { return }
            fail(context: context, TLSError(.handshakeTimeout, "the peer did not complete the TLS handshake within \(timeout)"))
        }
        advanceHandshake(context: context)
    }

    // MARK: - Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let ciphertext = unwrapInboundIn(data)
        if ciphertext.readableBytes > 0 { receivedCiphertext.append(ciphertext) }
        switch state {
        case .handshaking: advanceHandshake(context: context)
        case .active: if readRequested { deliverPlaintext(context: context) }
        case .closing: awaitCloseNotify(context: context)
        case .waitingForActive, .closed: break
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        // Plaintext deliveries fire their own read-complete; ciphertext arrival alone is not news.
    }

    /// Moves queued ciphertext into the read BIO until it holds about `readBIOFill` bytes.
    /// Returns whether anything was moved.
    @discardableResult
    private func feedReadBIO() -> Bool {
        var moved = false
        while BIO_ctrl_pending(readBIO) < Self.readBIOFill, var buffer = receivedCiphertext.popFirst() {
            let count = min(buffer.readableBytes, Self.readBIOFill)
            let written = buffer.withUnsafeReadableBytes { BIO_write(readBIO, $0.baseAddress, Int32(count)) }
            guard written > 0 else {
                receivedCiphertext.prepend(buffer)
                break
            }
            moved = true
            buffer.moveReaderIndex(forwardBy: Int(written))
            if buffer.readableBytes > 0 { receivedCiphertext.prepend(buffer) }
        }
        return moved
    }

    /// Whether anything received is still waiting to be decrypted.
    private var hasUndecryptedInput: Bool {
        !receivedCiphertext.isEmpty || BIO_ctrl_pending(readBIO) > 0 || SSL_pending(ssl) > 0
    }

    private func advanceHandshake(context: ChannelHandlerContext) {
        feedReadBIO()
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            sendPendingCiphertext(context: context)
            completeHandshake(context: context)
            return
        }
        let error = SSL_get_error(ssl, result)
        if error == SSL_ERROR_WANT_READ, !receivedCiphertext.isEmpty {
            sendPendingCiphertext(context: context)
            advanceHandshake(context: context)
            return
        }
        if error == SSL_ERROR_WANT_READ {
            sendPendingCiphertext(context: context)
            // The handshake is this handler's own business: keep reading even when the
            // application has turned auto-read off.
            context.read()
            return
        }
        let reasons = OpenSSLErrorQueue.drain()
        // OpenSSL leaves an alert in the write BIO: send it, so the peer learns why.
        sendPendingCiphertext(context: context)
        if let refusal = verification.failure {
            fail(context: context, TLSError(.peerRejected, refusal.message, openSSLReasons: reasons, refusal: refusal))
        } else {
            let summary = TLSHandler.summary(reasons)
            fail(context: context, TLSError(
                .handshakeFailed, "the TLS handshake failed: \(summary)", openSSLReasons: reasons,
                refusal: PeerRefusal.classifying(handshakeReasons: reasons, summary: summary)
            ))
        }
    }

    private func completeHandshake(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        guard let identity = verification.identity else {
            fail(context: context, TLSError(
                .peerRejected, "the peer presented no certificate", refusal: PeerRefusal(.noCertificate, "the peer presented no certificate")
            ))
            return
        }
        peer = identity
        state = .active
        context.fireUserInboundEventTriggered(TLSEvent.handshakeCompleted(identity))
        while case .active = state, let (buffer, promise) = pendingWrites.popFirst() {
            pendingWriteBytes -= buffer.readableBytes
            encrypt(buffer, promise: promise, context: context)
        }
        if flushPending, case .active = state {
            flushPending = false
            context.flush()
        }
        // The peer's first data may have come in the same read as its last handshake message.
        if readRequested, case .active = state { deliverPlaintext(context: context) }
    }

    /// Decrypts and hands up everything the read BIO holds (at most one socket read cycle).
    private func deliverPlaintext(context: ChannelHandlerContext) {
        var delivered = 0
        /// Small messages get a small buffer; bulk data fills 64 KiB ones.
        func newBuffer() -> ByteBuffer {
            let waiting = receivedCiphertext.reduce(Int(BIO_ctrl_pending(readBIO))) { $0 + $1.readableBytes }
            return context.channel.allocator.buffer(capacity: min(Self.plaintextBuffer, max(Self.readChunk, waiting)))
        }
        var buffer = newBuffer()
        /// Hands up what `buffer` holds.
        func handUp() {
            guard buffer.readableBytes > 0 else { return }
            delivered += buffer.readableBytes
            context.fireChannelRead(wrapInboundOut(buffer))
            buffer = newBuffer()
        }
        reading: while case .active = state {
            // Several records go into one buffer: fewer allocations and fewer reads up the pipeline.
            if buffer.writableBytes < Self.readChunk { handUp() }
            OpenSSLErrorQueue.clear()
            var result: Int32 = 0
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.readChunk) { space in
                result = SSL_read(ssl, space.baseAddress, Int32(space.count))
                return max(0, Int(result))
            }
            if result > 0 { continue }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ:
                if feedReadBIO() { continue }
                break reading
            case SSL_ERROR_ZERO_RETURN:
                handUp()
                if delivered > 0 { context.fireChannelReadComplete() }
                peerClosedCleanly(context: context)
                return
            default:
                let reasons = OpenSSLErrorQueue.drain()
                sendPendingCiphertext(context: context)
                fail(context: context, TLSError(
                    .protocolError, "the TLS session failed: \(TLSHandler.summary(reasons))", openSSLReasons: reasons
                ))
                return
            }
        }
        if case .active = state { handUp() }
        // Reading may have produced handshake messages (key updates) to answer.
        sendPendingCiphertext(context: context)
        if delivered > 0 {
            readRequested = false
            context.fireChannelReadComplete()
        }
    }

    // MARK: - Outbound

    public func read(context: ChannelHandlerContext) {
        guard case .active = state else {
            context.read()
            return
        }
        readRequested = true
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
        case .waitingForActive, .handshaking:
            guard pendingWriteBytes + buffer.readableBytes <= tlsContext.configuration.maximumBufferedPlaintextBytes else {
                promise?.fail(TLSError(
                    .bufferLimitExceeded,
                    "more than \(tlsContext.configuration.maximumBufferedPlaintextBytes) bytes written before the TLS handshake completed"
                ))
                return
            }
            pendingWriteBytes += buffer.readableBytes
            pendingWrites.append((buffer, promise))
        case .closing, .closed:
            promise?.fail(TLSError(.closed, "the TLS connection is closing"))
        }
    }

    public func flush(context: ChannelHandlerContext) {
        switch state {
        case .active: context.flush()
        case .waitingForActive, .handshaking: flushPending = true
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
            state = .closing
            closePromise = promise
            OpenSSLErrorQueue.clear()
            SSL_shutdown(ssl)
            OpenSSLErrorQueue.clear()
            sendPendingCiphertext(context: context)
            if receivedCloseNotify { return finishClose(context: context) }
            let timeout = tlsContext.configuration.closeTimeout
            closeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
                finishClose(context: context)
            }
            context.read()
        case .closing:
            if let promise {
                if let closePromise { closePromise.futureResult.cascade(to: promise) } else { closePromise = promise }
            }
        case .waitingForActive, .handshaking:
            state = .closed
            cancelTimers()
            failPendingWrites(TLSError(.closed, "closed before the TLS handshake completed"))
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
        while remaining.readableBytes > 0 {
            let chunk = remaining.readSlice(length: min(Self.writeChunk, remaining.readableBytes))!
            OpenSSLErrorQueue.clear()
            let written = chunk.withUnsafeReadableBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
            guard written == chunk.readableBytes else {
                let reasons = OpenSSLErrorQueue.drain()
                let error = TLSError(.protocolError, "encrypting failed: \(TLSHandler.summary(reasons))", openSSLReasons: reasons)
                promise?.fail(error)
                fail(context: context, error)
                return
            }
            let ciphertext = takeCiphertext(context: context)
            context.write(wrapOutboundOut(ciphertext), promise: remaining.readableBytes == 0 ? promise : nil)
        }
    }

    /// Moves whatever OpenSSL produced to the socket, flushed.
    private func sendPendingCiphertext(context: ChannelHandlerContext) {
        guard BIO_ctrl_pending(writeBIO) > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(takeCiphertext(context: context)), promise: nil)
    }

    private func takeCiphertext(context: ChannelHandlerContext) -> ByteBuffer {
        let pending = Int(BIO_ctrl_pending(writeBIO))
        var buffer = context.channel.allocator.buffer(capacity: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { space in
            max(0, Int(BIO_read(writeBIO, space.baseAddress, Int32(pending))))
        }
        return buffer
    }

    /// While closing, reads only to find the peer's close_notify; its data is discarded.
    private func awaitCloseNotify(context: ChannelHandlerContext) {
        var scratch = [UInt8](repeating: 0, count: Self.readChunk)
        while true {
            feedReadBIO()
            OpenSSLErrorQueue.clear()
            let result = SSL_read(ssl, &scratch, Int32(scratch.count))
            if result > 0 { continue }
            if SSL_get_error(ssl, result) == SSL_ERROR_WANT_READ, !receivedCiphertext.isEmpty { continue }
            if SSL_get_error(ssl, result) == SSL_ERROR_ZERO_RETURN {
                receivedCloseNotify = true
                finishClose(context: context)
            }
            OpenSSLErrorQueue.clear()
            return
        }
    }

    private func peerClosedCleanly(context: ChannelHandlerContext) {
        receivedCloseNotify = true
        context.fireUserInboundEventTriggered(TLSEvent.closeNotifyReceived)
        guard case .active = state else { return }
        state = .closing
        OpenSSLErrorQueue.clear()
        SSL_shutdown(ssl)
        OpenSSLErrorQueue.clear()
        sendPendingCiphertext(context: context)
        finishClose(context: context)
    }

    private func finishClose(context: ChannelHandlerContext) {
        guard case .closing = state else { return }
        state = .closed
        cancelTimers()
        failPendingWrites(TLSError(.closed, "the connection closed"))
        let promise = closePromise
        closePromise = nil
        context.close(promise: promise)
    }

    private func fail(context: ChannelHandlerContext, _ error: TLSError) {
        switch state {
        case .closed: return
        default: state = .closed
        }
        cancelTimers()
        failPendingWrites(error)
        context.fireErrorCaught(error)
        let promise = closePromise
        closePromise = nil
        context.close(promise: promise)
    }

    private func failPendingWrites(_ error: TLSError) {
        while let (_, promise) = pendingWrites.popFirst() { promise?.fail(error) }
        pendingWriteBytes = 0
    }

    private func cancelTimers() {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        closeTimer?.cancel()
        closeTimer = nil
    }

    /// The last, most specific OpenSSL reason, e.g. "tlsv1 alert unknown ca".
    private static func summary(_ reasons: [String]) -> String {
        guard let last = reasons.last else { return "no reason given (the peer may have closed the connection)" }
        return last.split(separator: ":").dropFirst(4).first.map(String.init) ?? last
    }
}

@available(*, unavailable)
extension TLSHandler: Sendable {}
