internal import COpenSSL
public import Foundation

/// The consortium's trust anchor: the CA certificates (and optionally CRLs) against which every
/// node certificate is checked.
///
/// `@unchecked Sendable`: the `X509_STORE` is filled once in `init` and then only read;
/// OpenSSL locks the store internally for concurrent verifications.
public final class CertificateAuthority: @unchecked Sendable {
    private let store: OpaquePointer
    /// The CA certificates, for display and for configuring TLS contexts.
    public let certificates: [Certificate]

    /// Trusts the CA certificates in `pem`.
    public init(pemRepresentation pem: String) throws(CryptoError) {
        certificates = try Certificate.all(inPEM: pem)
        guard let store = X509_STORE_new() else {
            throw CryptoError.drainingQueue(.libraryFailure, "could not allocate a certificate store")
        }
        self.store = store
        for certificate in certificates where X509_STORE_add_cert(store, certificate.handle.pointer) != 1 {
            throw CryptoError.drainingQueue(.libraryFailure, "could not add CA \(certificate) to the store")
        }
    }

    /// Trusts the CA certificates in the PEM file at `path`.
    public convenience init(pemFile path: String) throws(CryptoError) {
        try self.init(pemRepresentation: PEMFile.read(path, what: "CA certificate"))
    }

    deinit { X509_STORE_free(store) }

    /// Checks that `certificate` chains to this CA and is within its validity period at `time`.
    ///
    /// - Throws: `CryptoError` with code `.untrustedCertificate` and OpenSSL's verification reason
    ///   (for example "certificate has expired" or "unable to get local issuer certificate").
    public func verify(_ certificate: Certificate, at time: Date = Date()) throws(CryptoError) {
        OpenSSLErrorQueue.clear()
        guard let context = X509_STORE_CTX_new() else {
            throw CryptoError.drainingQueue(.libraryFailure, "could not allocate a verification context")
        }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, certificate.handle.pointer, nil) == 1 else {
            throw CryptoError.drainingQueue(.libraryFailure, "could not start verifying \(certificate)")
        }
        X509_STORE_CTX_set_time(context, 0, time_t(time.timeIntervalSince1970))
        if X509_verify_cert(context) == 1 {
            OpenSSLErrorQueue.clear()
            return
        }
        let code = X509_STORE_CTX_get_error(context)
        let reason = String(cString: X509_verify_cert_error_string(Int(code)))
        throw CryptoError(
            .untrustedCertificate,
            "certificate \(certificate) is not trusted by the consortium CA: \(reason)",
            openSSLReasons: OpenSSLErrorQueue.drain()
        )
    }
}
