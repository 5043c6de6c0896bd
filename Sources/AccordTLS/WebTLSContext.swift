import AccordCrypto
internal import COpenSSL
import COpenSSLShim
public import NIOCore

/// An OpenSSL `SSL_CTX` for reaching an HTTPS service on the web, such as the organisation's
/// identity provider: client only, TLS 1.2 or 1.3, no client certificate, the server's chain
/// verified against the system's trusted roots (or a CA file for a private one), and each
/// connection's host name checked against the certificate (`TLSHandler(web:serverName:)`).
/// Nothing of the consortium's PKI applies: that is `TLSContext`.
///
/// `@unchecked Sendable`: configured in `init`, never changed after.
public final class WebTLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    /// Timeouts and buffer bounds for `TLSHandler`; its node paths are unused.
    let configuration: TLSConfiguration

    /// - Parameter trustRootsPath: a PEM file of trusted CAs; nil: the system's (OpenSSL's
    ///   default paths, Debian's /etc/ssl/certs).
    public init(trustRootsPath: String? = nil, handshakeTimeout: TimeAmount = .seconds(10)) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError(.configuration, "OpenSSL could not create a TLS context", openSSLReasons: OpenSSLErrorQueue.drain())
        }
        pointer = context
        configuration = TLSConfiguration(
            certificateChainPath: "", privateKeyPath: "", trustRootsPath: trustRootsPath ?? "(system)", handshakeTimeout: handshakeTimeout
        )
        guard accord_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw TLSError(.configuration, "could not require TLS 1.2 or later", openSSLReasons: OpenSSLErrorQueue.drain())
        }
        accord_SSL_CTX_disable_renegotiation_and_compression(context)
        accord_SSL_CTX_set_max_cert_list(context, 64 * 1024)
        let loaded = trustRootsPath.map { SSL_CTX_load_verify_locations(context, $0, nil) } ?? SSL_CTX_set_default_verify_paths(context)
        guard loaded == 1 else {
            throw TLSError(
                .configuration, "cannot load the trusted CAs \(trustRootsPath ?? "of the system")", openSSLReasons: OpenSSLErrorQueue.drain()
            )
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        OpenSSLErrorQueue.clear()
    }

    deinit { SSL_CTX_free(pointer) }
}
