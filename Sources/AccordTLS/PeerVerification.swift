import AccordCrypto
internal import COpenSSL
import COpenSSLShim

/// Per-connection verification state, reached from OpenSSL's verify callback through the `SSL`'s
/// ex-data slot. Only touched on the connection's event loop, inside `SSL_do_handshake`.
final class PeerVerification {
    let policy: PeerPolicy
    let pins: Set<SHA256Digest>?
    /// The first reason a certificate was refused, for the error, the log and the metric.
    var failure: PeerRefusal?
    /// The verified leaf certificate.
    var identity: PeerIdentity?

    init(policy: PeerPolicy, pins: Set<SHA256Digest>?) {
        self.policy = policy
        self.pins = pins
    }

    /// Accord's own rules for the leaf certificate, after OpenSSL's chain checks passed.
    func check(leaf certificate: Certificate) -> PeerRefusal? {
        let subject = "\(certificate.organisation)/\(certificate.commonName)"
        do {
            try certificate.checkNodeProfile()
        } catch {
            return PeerRefusal(error.code == .unsupportedKey ? .unsupportedKey : .caCertificate, error.message, subject: subject)
        }
        if let expected = policy.expectedOrganisation, certificate.organisation != expected {
            return PeerRefusal(.wrongOrganisation, "dialled \(expected), certificate \(certificate) says \(certificate.organisation)", subject: subject)
        }
        if let allowed = policy.allowedOrganisations, !allowed.contains(certificate.organisation) {
            return PeerRefusal(.organisationNotConfigured, "organisation \(certificate.organisation) of \(certificate) is not a configured peer", subject: subject)
        }
        if let pins, !pins.contains(certificate.fingerprint) {
            return PeerRefusal(.pinMismatch, "\(certificate) is not one of the \(pins.count) pinned fingerprint(s)", subject: subject)
        }
        return nil
    }
}

/// The ex-data slot holding each connection's `PeerVerification`.
let verificationSlot: Int32 = accord_SSL_get_ex_new_index()

/// OpenSSL's verify callback. A C function pointer can capture nothing, so it finds the
/// connection's state through the `SSL` of the store context.
let accordVerifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverified, storeContext in
    guard let storeContext,
        let ssl = X509_STORE_CTX_get_ex_data(storeContext, SSL_get_ex_data_X509_STORE_CTX_idx()),
        let slot = SSL_get_ex_data(OpaquePointer(ssl), verificationSlot)
    else { return 0 }
    let verification = Unmanaged<PeerVerification>.fromOpaque(slot).takeUnretainedValue()
    let depth = X509_STORE_CTX_get_error_depth(storeContext)
    let current = X509_STORE_CTX_get_current_cert(storeContext)
    let subject = current.map(subjectLine) ?? "(no certificate)"

    guard preverified == 1 else {
        let error = X509_STORE_CTX_get_error(storeContext)
        // A revocation list past its next update is still a list of revoked certificates: the
        // node goes on refusing those (OpenSSL checks the stale list after this callback says
        // yes) and accepts the others, rather than refusing every partner because a refresh was
        // missed. Start, reload and `status` report the expiry (docs/operations.md).
        if error == X509_V_ERR_CRL_HAS_EXPIRED { return 1 }
        let reason = String(cString: X509_verify_cert_error_string(Int(error)))
        if verification.failure == nil {
            let leaf = X509_STORE_CTX_get0_cert(storeContext).flatMap(certificate(of:))
            verification.failure = PeerRefusal(
                PeerRefusal.code(forVerifyError: error), "certificate \(subject) (chain depth \(depth)) refused: \(reason)",
                subject: leaf.map { "\($0.organisation)/\($0.commonName)" }
            )
        }
        return 0
    }
    guard depth == 0, let current else { return 1 }

    let certificate: Certificate
    do {
        certificate = try readCertificate(current)
    } catch {
        verification.failure = PeerRefusal(.invalidIdentity, "certificate \(subject) refused: \(error)")
        X509_STORE_CTX_set_error(storeContext, X509_V_ERR_APPLICATION_VERIFICATION)
        return 0
    }
    if let refusal = verification.check(leaf: certificate) {
        verification.failure = refusal
        X509_STORE_CTX_set_error(storeContext, X509_V_ERR_APPLICATION_VERIFICATION)
        return 0
    }
    verification.identity = PeerIdentity(certificate: certificate)
    return 1
}

/// The OpenSSL certificate as Accord's `Certificate`.
private func readCertificate(_ x509: OpaquePointer) throws -> Certificate {
    var der: UnsafeMutablePointer<UInt8>? = nil
    let length = i2d_X509(x509, &der)
    guard length > 0, let der else { throw CryptoError(.invalidCertificate, "the certificate cannot be encoded") }
    defer { accord_OPENSSL_free(der) }
    return try Certificate(derRepresentation: Array(UnsafeBufferPointer(start: der, count: Int(length))))
}

private func certificate(of x509: OpaquePointer) -> Certificate? { try? readCertificate(x509) }

/// "O=acme, CN=node1" for logs.
func subjectLine(_ certificate: OpaquePointer) -> String {
    guard let line = X509_NAME_oneline(X509_get_subject_name(certificate), nil, 0) else { return "(unreadable subject)" }
    defer { accord_OPENSSL_free(line) }
    return String(cString: line)
}
