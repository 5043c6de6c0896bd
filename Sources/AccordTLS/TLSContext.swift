public import AccordCrypto
internal import COpenSSL
import COpenSSLShim

/// A configured OpenSSL `SSL_CTX`: TLS 1.3 only, the node's certificate and key, the consortium CA
/// (and CRL), peer verification required in both roles. One context serves every connection.
///
/// `@unchecked Sendable`: the `SSL_CTX` is fully configured in `init` and never changed after;
/// OpenSSL allows concurrent `SSL_new` from a configured context.
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    public let configuration: TLSConfiguration
    /// This node's own certificate, for logs and for the application-level hello.
    public let certificate: Certificate

    public init(configuration: TLSConfiguration) throws(TLSError) {
        self.configuration = configuration
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_method()) else {
            throw TLSError(.configuration, "OpenSSL could not create a TLS context", openSSLReasons: OpenSSLErrorQueue.drain())
        }
        pointer = context
        do {
            guard let leaf = try Certificate.all(inPEMFile: configuration.certificateChainPath).first else {
                throw TLSError(.configuration, "certificate \(configuration.certificateChainPath) holds no certificate")
            }
            certificate = leaf
        } catch let error as TLSError {
            throw error
        } catch {
            throw TLSError(.configuration, "certificate \(configuration.certificateChainPath): \(error)")
        }
        guard accord_SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION) == 1,
            accord_SSL_CTX_set_max_proto_version(context, TLS1_3_VERSION) == 1
        else { throw TLSContext.failure("could not restrict the context to TLS 1.3") }
        accord_SSL_CTX_disable_renegotiation_and_compression(context)
        // No session tickets: every connection does a full handshake with both certificates.
        SSL_CTX_set_num_tickets(context, 0)
        // A node's chain is a leaf and perhaps an intermediate, a few KiB: an unauthenticated
        // peer may not make the handshake buffer OpenSSL's default 100 KiB.
        accord_SSL_CTX_set_max_cert_list(context, Self.maximumPeerChainBytes)
        accord_SSL_CTX_release_idle_buffers(context)

        guard SSL_CTX_use_certificate_chain_file(context, configuration.certificateChainPath) == 1 else {
            throw TLSContext.failure("cannot load the certificate chain \(configuration.certificateChainPath)")
        }
        guard SSL_CTX_use_PrivateKey_file(context, configuration.privateKeyPath, SSL_FILETYPE_PEM) == 1,
            SSL_CTX_check_private_key(context) == 1
        else {
            let reasons = OpenSSLErrorQueue.drain()
            guard reasons.contains(where: { $0.contains("key values mismatch") }) else {
                throw TLSError(.configuration, "cannot load the private key \(configuration.privateKeyPath)", openSSLReasons: reasons)
            }
            throw TLSError(
                .configuration,
                "the private key \(configuration.privateKeyPath) does not match the certificate \(configuration.certificateChainPath)",
                openSSLReasons: reasons
            )
        }
        guard SSL_CTX_load_verify_locations(context, configuration.trustRootsPath, nil) == 1 else {
            throw TLSContext.failure("cannot load the CA file \(configuration.trustRootsPath)")
        }
        if let authorities = SSL_load_client_CA_file(configuration.trustRootsPath) {
            SSL_CTX_set_client_CA_list(context, authorities)
        }
        if let crlPath = configuration.crlPath {
            let store = SSL_CTX_get_cert_store(context)
            guard let lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file()),
                X509_load_crl_file(lookup, crlPath, X509_FILETYPE_PEM) >= 1
            else { throw TLSContext.failure("cannot load the CRL file \(crlPath)") }
            X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK))
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accordVerifyCallback)
        OpenSSLErrorQueue.clear()
    }

    deinit { SSL_CTX_free(pointer) }

    /// The most bytes of certificate chain a peer may present.
    public static let maximumPeerChainBytes = 32 * 1024

    private static func failure(_ message: String) -> TLSError {
        TLSError(.configuration, message, openSSLReasons: OpenSSLErrorQueue.drain())
    }
}
