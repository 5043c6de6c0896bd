internal import COpenSSL
import COpenSSLShim
public import Foundation

/// An X.509 certificate of a node, read through libcrypto.
///
/// Accord identifies a node by its certificate: the Subject `O` is the organisation, the `CN` the
/// node's name within it. Both are read once at load time; a certificate without exactly one of each
/// is refused, because an ambiguous identity cannot be authorised.
public struct Certificate: Sendable, Hashable, CustomStringConvertible {
    let handle: X509Handle

    public let organisation: String
    public let commonName: String
    public let notBefore: Date
    public let notAfter: Date
    /// SHA-256 over the DER certificate, as `openssl x509 -fingerprint -sha256` computes it.
    public let fingerprint: SHA256Digest
    /// The certificate's DER bytes, for storing it or sending it to a peer.
    public let derRepresentation: [UInt8]

    /// Reads the first certificate in PEM text.
    public init(pemRepresentation pem: String) throws(CryptoError) {
        let all = try Certificate.all(inPEM: pem)
        guard let first = all.first else {
            throw CryptoError(.invalidCertificate, "the PEM text holds no certificate")
        }
        self = first
    }

    /// Reads a DER certificate (as stored or received on the wire).
    public init(derRepresentation der: [UInt8]) throws(CryptoError) {
        let pointer = try readDER(der, .invalidCertificate, "the bytes are not a DER X.509 certificate") {
            d2i_X509(nil, $0, $1)
        }
        try self.init(handle: X509Handle(taking: pointer))
    }

    /// Every certificate in PEM text, in order (a chain file, a CA bundle).
    public static func all(inPEM pem: String) throws(CryptoError) -> [Certificate] {
        try withMemoryBIO(Array(pem.utf8)) { bio throws(CryptoError) in
            var certificates: [Certificate] = []
            while true {
                OpenSSLErrorQueue.clear()
                guard let pointer = PEM_read_bio_X509(bio, nil, nil, nil) else { break }
                certificates.append(try Certificate(handle: X509Handle(taking: pointer)))
            }
            // Reaching the end of the text leaves a "no start line" entry; anything else is damage.
            let reasons = OpenSSLErrorQueue.drain()
            if certificates.isEmpty || reasons.contains(where: { !$0.contains("no start line") }) {
                throw CryptoError(.invalidCertificate, "the PEM text holds no readable certificate", openSSLReasons: reasons)
            }
            return certificates
        }
    }

    /// Reads every certificate in a PEM file.
    public static func all(inPEMFile path: String) throws(CryptoError) -> [Certificate] {
        try all(inPEM: PEMFile.read(path, what: "certificate"))
    }

    init(handle: X509Handle) throws(CryptoError) {
        self.handle = handle
        let subject = X509_get_subject_name(handle.pointer)
        organisation = try Certificate.singleEntry(NID_organizationName, named: "O", in: subject)
        commonName = try Certificate.singleEntry(NID_commonName, named: "CN", in: subject)
        notBefore = try Certificate.date(X509_get0_notBefore(handle.pointer), field: "notBefore")
        notAfter = try Certificate.date(X509_get0_notAfter(handle.pointer), field: "notAfter")

        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(handle.pointer, EVP_sha256(), &digest, &length) == 1 else {
            throw CryptoError.drainingQueue(.libraryFailure, "could not compute the certificate fingerprint")
        }
        fingerprint = SHA256Digest(bytes: digest.prefix(Int(length)))!

        var output: UnsafeMutablePointer<UInt8>? = nil
        let derLength = i2d_X509(handle.pointer, &output)
        guard derLength > 0, let output else {
            throw CryptoError.drainingQueue(.libraryFailure, "could not encode the certificate as DER")
        }
        defer { accord_OPENSSL_free(output) }
        derRepresentation = Array(UnsafeBufferPointer(start: output, count: Int(derLength)))
    }

    /// The certificate's public key, which must be ECDSA P-256.
    public func publicKey() throws(CryptoError) -> P256PublicKey {
        OpenSSLErrorQueue.clear()
        guard let pointer = X509_get_pubkey(handle.pointer) else {
            throw CryptoError.drainingQueue(.invalidCertificate, "certificate \(self) carries no readable public key")
        }
        return P256PublicKey(key: try EVPKey(taking: pointer))
    }

    /// Whether the certificate says it is a certificate authority (`basicConstraints CA:TRUE`).
    public var isCertificateAuthority: Bool { X509_check_ca(handle.pointer) != 0 }

    /// Checks that this is a node certificate Accord can use: not a CA (a node certificate that
    /// could issue certificates would let its holder mint identities of other organisations), and
    /// an ECDSA P-256 key (a node signs its changes with its TLS key, and Accord verifies P-256).
    ///
    /// - Throws: `CryptoError` `.invalidCertificate` for a CA certificate, `.unsupportedKey` for
    ///   another kind of key.
    public func checkNodeProfile() throws(CryptoError) {
        if isCertificateAuthority {
            throw CryptoError(.invalidCertificate, "certificate \(self) is a CA certificate (basicConstraints CA:TRUE); a node certificate must not be able to issue certificates")
        }
        do {
            _ = try publicKey()
        } catch {
            throw CryptoError(.unsupportedKey, "certificate \(self): \(error.message)", openSSLReasons: error.openSSLReasons)
        }
    }

    /// Whether `time` lies within `notBefore ... notAfter`.
    public func isValid(at time: Date) -> Bool { notBefore <= time && time <= notAfter }

    public var description: String { "O=\(organisation), CN=\(commonName) [sha256 \(fingerprint.hex.prefix(16))…]" }

    public static func == (lhs: Certificate, rhs: Certificate) -> Bool { lhs.fingerprint == rhs.fingerprint }
    public func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }

    private static func singleEntry(_ nid: Int32, named name: String, in subject: OpaquePointer?) throws(CryptoError) -> String {
        let index = X509_NAME_get_index_by_NID(subject, nid, -1)
        guard index >= 0 else {
            throw CryptoError(.invalidCertificate, "the certificate's Subject has no \(name); Accord needs O=<organisation>, CN=<node>")
        }
        guard X509_NAME_get_index_by_NID(subject, nid, index) < 0 else {
            throw CryptoError(.invalidCertificate, "the certificate's Subject has more than one \(name); the identity is ambiguous")
        }
        var utf8: UnsafeMutablePointer<UInt8>? = nil
        let length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)))
        guard length >= 0, let utf8 else {
            throw CryptoError.drainingQueue(.invalidCertificate, "the certificate's Subject \(name) is not readable text")
        }
        defer { accord_OPENSSL_free(utf8) }
        let value = String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
        guard !value.isEmpty else {
            throw CryptoError(.invalidCertificate, "the certificate's Subject \(name) is empty")
        }
        return value
    }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?, field: String) throws(CryptoError) -> Date {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else {
            throw CryptoError.drainingQueue(.invalidCertificate, "the certificate's \(field) is not a readable time")
        }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}

/// Owns one `X509` and frees it with the last reference.
///
/// `@unchecked Sendable`: Accord only reads a certificate after parsing it; OpenSSL guards the
/// lazily computed extension cache inside `X509` with its own lock.
final class X509Handle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(taking pointer: OpaquePointer) { self.pointer = pointer }
    deinit { X509_free(pointer) }
}

/// Reads key and certificate files with errors that name the file.
enum PEMFile {
    static func read(_ path: String, what: String) throws(CryptoError) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CryptoError(.unreadableFile, "cannot read \(what) file \(path): \(error.localizedDescription)")
        }
    }
}
