import AccordCrypto
internal import COpenSSL
import COpenSSLShim
import NIOCore

/// One OpenSSL connection: the `SSL` with its two memory BIOs and the peer checks of its verify
/// callback. It knows nothing of channels: ciphertext goes in with `feed`, comes out with
/// `takeCiphertext`; plaintext comes out of `read` and goes in through `write`. Each call clears
/// OpenSSL's per-thread error queue first and drains it after a failure (OPENSSL_NOTES.md,
/// pitfall 3), so one connection's error never shows up in another's.
///
/// Not Sendable: it belongs to the event loop of the channel `TLSHandler` drives it for.
final class OpenSSLConnection {
    /// What one step of the handshake came to.
    enum HandshakeStep {
        /// Done; the peer passed every check. No identity for a web server (`WebTLSContext`):
        /// OpenSSL verified its chain and host name, and it is no member of the consortium.
        case complete(PeerIdentity?)
        /// OpenSSL needs more of the peer's bytes.
        case needsInput
        case failed(TLSError)
    }

    /// What one `read` came to.
    enum ReadOutcome {
        case bytes(Int)
        /// Nothing to decrypt until more ciphertext is fed.
        case needsInput
        /// The peer's close_notify.
        case closeNotify
        case failed(TLSError)
    }

    private let ssl: OpaquePointer
    private var readBIO: OpaquePointer
    private var writeBIO: OpaquePointer
    /// The most bytes each memory BIO has held since it was made: a memory BIO keeps the largest
    /// buffer it ever needed, so after a burst (a catch-up) an idle session would hold ~80 KiB in
    /// the two. Emptied after holding more than `releasedBIOBytes`, a BIO is replaced by a new one.
    private var readBIOHighWater = 0
    private var writeBIOHighWater = 0
    private static let releasedBIOBytes = 16 * 1024
    private let verification: PeerVerification
    /// A connection to a web server (`WebTLSContext`): OpenSSL verified its chain and host name,
    /// and Accord's node rules do not apply.
    private let isWeb: Bool

    convenience init(context: TLSContext, role: TLSHandler.Role, policy: PeerPolicy) throws(TLSError) {
        try self.init(context.pointer, role: role, verification: PeerVerification(policy: policy, pins: context.configuration.pinnedFingerprints))
    }

    /// A client connection to the web server `serverName` (SNI, and the name its certificate
    /// must hold).
    convenience init(web context: WebTLSContext, serverName: String) throws(TLSError) {
        try self.init(context.pointer, role: .client, verification: nil)
        guard accord_SSL_set_tlsext_host_name(ssl, serverName) == 1, SSL_set1_host(ssl, serverName) == 1 else {
            throw TLSError(.configuration, "cannot set the server name \(serverName)", openSSLReasons: OpenSSLErrorQueue.drain())
        }
    }

    private init(_ context: OpaquePointer, role: TLSHandler.Role, verification: PeerVerification?) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let ssl = SSL_new(context), let readBIO = BIO_new(BIO_s_mem()), let writeBIO = BIO_new(BIO_s_mem()) else {
            throw TLSError(.configuration, "OpenSSL could not create a connection", openSSLReasons: OpenSSLErrorQueue.drain())
        }
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        // An empty read BIO says "retry" (want more input) rather than "end of file".
        accord_BIO_set_mem_eof_return(readBIO, -1)
        // The SSL owns both BIOs from here on and frees them in SSL_free.
        SSL_set_bio(ssl, readBIO, writeBIO)
        switch role {
        case .client: SSL_set_connect_state(ssl)
        case .server: SSL_set_accept_state(ssl)
        }
        isWeb = verification == nil
        self.verification = verification ?? PeerVerification(policy: .anyMember, pins: nil)
        SSL_set_ex_data(ssl, verificationSlot, Unmanaged.passRetained(self.verification).toOpaque())
    }

    deinit {
        SSL_set_ex_data(ssl, verificationSlot, nil)
        Unmanaged.passUnretained(verification).release()
        SSL_free(ssl)
    }

    /// Why the verify callback refused the peer's certificate, if it did.
    var refusal: PeerRefusal? { verification.failure }

    // MARK: - Ciphertext

    /// Ciphertext given to OpenSSL and not yet consumed.
    var bufferedCiphertext: Int { Int(BIO_ctrl_pending(readBIO)) }

    /// Moves as much of `ciphertext` into OpenSSL as fits under `limit` bytes waiting there;
    /// returns how many bytes were moved.
    func feed(_ ciphertext: inout ByteBuffer, upTo limit: Int) -> Int {
        let room = limit - bufferedCiphertext
        guard room > 0, ciphertext.readableBytes > 0 else { return 0 }
        let count = min(ciphertext.readableBytes, room)
        let written = ciphertext.withUnsafeReadableBytes { BIO_write(readBIO, $0.baseAddress, Int32(count)) }
        guard written > 0 else { return 0 }
        ciphertext.moveReaderIndex(forwardBy: Int(written))
        readBIOHighWater = max(readBIOHighWater, bufferedCiphertext)
        return Int(written)
    }

    /// Ciphertext OpenSSL produced for the peer and not yet taken.
    var pendingCiphertext: Int { Int(BIO_ctrl_pending(writeBIO)) }

    /// Takes everything OpenSSL produced for the peer.
    func takeCiphertext(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        let pending = pendingCiphertext
        writeBIOHighWater = max(writeBIOHighWater, pending)
        var buffer = allocator.buffer(capacity: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { space in
            max(0, Int(BIO_read(writeBIO, space.baseAddress, Int32(pending))))
        }
        if writeBIOHighWater > Self.releasedBIOBytes, pendingCiphertext == 0, let fresh = BIO_new(BIO_s_mem()) {
            SSL_set0_wbio(ssl, fresh)  // frees the old one
            writeBIO = fresh
            writeBIOHighWater = 0
        }
        return buffer
    }

    /// Replaces the read BIO by a new one once it is empty after holding a burst.
    private func releaseDrainedReadBIO() {
        guard readBIOHighWater > Self.releasedBIOBytes, bufferedCiphertext == 0, let fresh = BIO_new(BIO_s_mem()) else { return }
        accord_BIO_set_mem_eof_return(fresh, -1)
        SSL_set0_rbio(ssl, fresh)  // frees the old one
        readBIO = fresh
        readBIOHighWater = 0
    }

    // MARK: - Handshake

    func handshake() -> HandshakeStep {
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            if isWeb {
                // SSL_VERIFY_PEER: a chain or name that fails verification fails the handshake.
                return SSL_get_verify_result(ssl) == X509_V_OK
                    ? .complete(nil) : .failed(TLSError(.peerRejected, "the server's certificate was not verified"))
            }
            guard let identity = verification.identity else {
                return .failed(TLSError(
                    .peerRejected, "the peer presented no certificate", refusal: PeerRefusal(.noCertificate, "the peer presented no certificate")
                ))
            }
            return .complete(identity)
        }
        if SSL_get_error(ssl, result) == SSL_ERROR_WANT_READ { return .needsInput }
        let reasons = OpenSSLErrorQueue.drain()
        if let refusal = verification.failure {
            return .failed(TLSError(.peerRejected, refusal.message, openSSLReasons: reasons, refusal: refusal))
        }
        var summary = Self.summary(reasons)
        // A web server's certificate: say what its verification found ("hostname mismatch").
        if isWeb, case let result = SSL_get_verify_result(ssl), result != X509_V_OK {
            summary += " (\(String(cString: X509_verify_cert_error_string(result))))"
        }
        return .failed(TLSError(
            .handshakeFailed, "the TLS handshake failed: \(summary)", openSSLReasons: reasons,
            refusal: PeerRefusal.classifying(handshakeReasons: reasons, summary: summary)
        ))
    }

    // MARK: - Data

    /// Decrypted bytes waiting inside OpenSSL (a record already read).
    var bufferedPlaintext: Int { Int(SSL_pending(ssl)) }

    /// Decrypts into `buffer`, at most `maximum` bytes.
    func read(into buffer: inout ByteBuffer, maximum: Int) -> ReadOutcome {
        OpenSSLErrorQueue.clear()
        var result: Int32 = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximum) { space in
            result = SSL_read(ssl, space.baseAddress, Int32(min(space.count, maximum)))
            return max(0, Int(result))
        }
        if result > 0 { return .bytes(Int(result)) }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ:
            releaseDrainedReadBIO()
            return .needsInput
        case SSL_ERROR_ZERO_RETURN: return .closeNotify
        default:
            let reasons = OpenSSLErrorQueue.drain()
            let summary = Self.summary(reasons)
            // In TLS 1.3 a client learns that the server refused its certificate only here, from
            // the alert the server sent.
            let refusal = summary.contains("alert") ? PeerRefusal(.refusedByPeer, summary) : nil
            return .failed(TLSError(.protocolError, "the TLS session failed: \(summary)", openSSLReasons: reasons, refusal: refusal))
        }
    }

    /// Reads and discards whatever arrives, until the peer's close_notify, the end of what was
    /// fed, or a failure.
    func discardUntilCloseNotify() -> ReadOutcome {
        var scratch = ByteBuffer()
        while true {
            scratch.clear()
            let outcome = read(into: &scratch, maximum: 16 * 1024)
            guard case .bytes = outcome else { return outcome }
        }
    }

    /// Encrypts `plaintext` (at most a few records; never empty).
    func write(_ plaintext: ByteBuffer) -> TLSError? {
        OpenSSLErrorQueue.clear()
        let written = plaintext.withUnsafeReadableBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard written == plaintext.readableBytes else {
            let reasons = OpenSSLErrorQueue.drain()
            return TLSError(.protocolError, "encrypting failed: \(Self.summary(reasons))", openSSLReasons: reasons)
        }
        return nil
    }

    /// Queues this side's close_notify (taken with `takeCiphertext`).
    func shutdown() {
        OpenSSLErrorQueue.clear()
        SSL_shutdown(ssl)
        OpenSSLErrorQueue.clear()
    }

    /// The last, most specific OpenSSL reason, e.g. "tlsv1 alert unknown ca".
    static func summary(_ reasons: [String]) -> String {
        guard let last = reasons.last else { return "no reason given (the peer may have closed the connection)" }
        return last.split(separator: ":").dropFirst(4).first.map(String.init) ?? last
    }
}
