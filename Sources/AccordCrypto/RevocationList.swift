internal import COpenSSL
import COpenSSLShim
public import Foundation

/// The consortium CA's certificate revocation lists: which node certificates were revoked, and
/// from when.
///
/// The TLS layer refuses a revoked certificate at the handshake whatever the date; authorship is
/// judged by date (docs/security-model.md, "Revocation"): a change its author stamped before its
/// certificate's revocation date stays valid, one stamped at or after it is refused. So this type
/// answers "revoked since when", not just "revoked".
///
/// `@unchecked Sendable`: the CRLs are read and checked in `init` and only read afterwards.
public final class RevocationList: @unchecked Sendable {
    /// One list's issuer and its dates. A CRL says when its issuer will publish the next one
    /// (`nextUpdate`); OpenSSL treats a list past that date as expired, so the node reports it
    /// ahead of time (docs/operations.md, "Refresh the revocation list").
    public struct Validity: Hashable, Sendable {
        /// The issuing CA's name, as "/O=…/CN=…".
        public let issuer: String
        public let lastUpdate: Date
        /// Nil for a list that names no next update (it never expires).
        public let nextUpdate: Date?

        /// Whether the list has passed its next update at `time`.
        public func hasExpired(at time: Date) -> Bool { nextUpdate.map { $0 <= time } ?? false }
    }

    private let lists: [CRLHandle]
    /// Each list's issuer and dates, in the order of the file.
    public let validity: [Validity]

    /// No certificate revoked.
    public static let empty = RevocationList(lists: [], validity: [])

    private init(lists: [CRLHandle], validity: [Validity]) {
        self.lists = lists
        self.validity = validity
    }

    /// Reads every CRL in PEM text and checks each one's signature against the CA that issued it.
    ///
    /// - Throws: `CryptoError` `.invalidCertificate` if the text holds no readable CRL, if a CRL
    ///   names an issuer that is not one of `authorities`, or if its signature does not verify.
    public convenience init(pemRepresentation pem: String, issuedBy authorities: [Certificate]) throws(CryptoError) {
        var lists: [CRLHandle] = []
        try withMemoryBIO(Array(pem.utf8)) { bio throws(CryptoError) in
            while true {
                OpenSSLErrorQueue.clear()
                guard let pointer = PEM_read_bio_X509_CRL(bio, nil, nil, nil) else { break }
                lists.append(CRLHandle(taking: pointer))
            }
            let reasons = OpenSSLErrorQueue.drain()
            if lists.isEmpty || reasons.contains(where: { !$0.contains("no start line") }) {
                throw CryptoError(.invalidCertificate, "the PEM text holds no readable certificate revocation list", openSSLReasons: reasons)
            }
        }
        var validity: [Validity] = []
        for list in lists {
            let issuer = X509_CRL_get_issuer(list.pointer)
            guard let authority = authorities.first(where: { X509_NAME_cmp(X509_get_subject_name($0.handle.pointer), issuer) == 0 }) else {
                throw CryptoError(.invalidCertificate, "a revocation list is issued by \(nameLine(issuer)), which is not one of the consortium CAs")
            }
            guard let key = X509_get0_pubkey(authority.handle.pointer), X509_CRL_verify(list.pointer, key) == 1 else {
                throw CryptoError.drainingQueue(.invalidCertificate, "the revocation list of \(nameLine(issuer)) is not signed by that CA")
            }
            guard let lastUpdate = Self.date(X509_CRL_get0_lastUpdate(list.pointer)) else {
                throw CryptoError(.invalidCertificate, "the revocation list of \(nameLine(issuer)) has an unreadable lastUpdate date")
            }
            let next = X509_CRL_get0_nextUpdate(list.pointer)
            let nextUpdate = Self.date(next)
            if next != nil, nextUpdate == nil {
                throw CryptoError(.invalidCertificate, "the revocation list of \(nameLine(issuer)) has an unreadable nextUpdate date")
            }
            validity.append(Validity(issuer: nameLine(issuer), lastUpdate: lastUpdate, nextUpdate: nextUpdate))
        }
        self.init(lists: lists, validity: validity)
    }

    /// Reads the CRLs in the PEM file at `path`.
    public convenience init(pemFile path: String, issuedBy authorities: [Certificate]) throws(CryptoError) {
        do {
            try self.init(pemRepresentation: PEMFile.read(path, what: "revocation list"), issuedBy: authorities)
        } catch {
            throw CryptoError(error.code, "\(path): \(error.message)", openSSLReasons: error.openSSLReasons)
        }
    }

    /// When `certificate` was revoked, or nil if no list names it.
    public func revocationDate(of certificate: Certificate) -> Date? {
        for list in lists {
            var entry: OpaquePointer? = nil
            // 1: revoked; 2: listed as removeFromCRL (a hold that was lifted), which is not revoked.
            guard X509_CRL_get0_by_cert(list.pointer, &entry, certificate.handle.pointer) == 1, let entry else { continue }
            var parts = tm()
            guard let time = X509_REVOKED_get0_revocationDate(entry), ASN1_TIME_to_tm(time, &parts) == 1 else {
                // An unreadable date cannot narrow the revocation: it counts from the beginning.
                return Date(timeIntervalSince1970: 0)
            }
            return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
        }
        return nil
    }

    /// How many lists were read (for logs).
    public var count: Int { lists.count }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}

/// Owns one `X509_CRL`.
final class CRLHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(taking pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_CRL_free(pointer) }
}

/// "O=Accord Consortium, CN=…" for messages.
func nameLine(_ name: OpaquePointer?) -> String {
    guard let name, let line = X509_NAME_oneline(name, nil, 0) else { return "(unreadable name)" }
    defer { accord_OPENSSL_free(line) }
    return String(cString: line)
}
