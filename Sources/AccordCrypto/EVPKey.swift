internal import COpenSSL
import COpenSSLShim

/// Owns one `EVP_PKEY` and frees it when the last reference goes.
///
/// `@unchecked Sendable`: the key is never mutated after construction, and OpenSSL 3 allows one
/// `EVP_PKEY` to be used by many threads at once, each with its own `EVP_MD_CTX`.
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer

    /// Takes ownership of `pointer` after checking it is an EC key on P-256.
    init(taking pointer: OpaquePointer) throws(CryptoError) {
        self.pointer = pointer
        guard EVP_PKEY_get_base_id(pointer) == EVP_PKEY_EC else {
            throw CryptoError(.unsupportedKey, "the key is not an elliptic-curve key; Accord signs with ECDSA P-256")
        }
        var name = [CChar](repeating: 0, count: 64)
        var length = 0
        guard EVP_PKEY_get_group_name(pointer, &name, name.count, &length) == 1 else {
            throw CryptoError.drainingQueue(.unsupportedKey, "the elliptic-curve key names no curve")
        }
        let curve = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard curve == "prime256v1" || curve == "P-256" else {
            throw CryptoError(.unsupportedKey, "the key is on curve \(curve); Accord signs with ECDSA P-256")
        }
    }

    /// Takes ownership of `pointer` after checking it is an RSA key (an identity provider's).
    init(takingRSA pointer: OpaquePointer) throws(CryptoError) {
        self.pointer = pointer
        guard EVP_PKEY_get_base_id(pointer) == EVP_PKEY_RSA else {
            throw CryptoError(.unsupportedKey, "the key is not an RSA key")
        }
    }

    deinit { EVP_PKEY_free(pointer) }

    /// The public half as DER SubjectPublicKeyInfo, the form certificates carry.
    var subjectPublicKeyInfo: [UInt8] {
        var output: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_PUBKEY(pointer, &output)
        guard length > 0, let output else { return [] }
        defer { accord_OPENSSL_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }
}

/// Parses one OpenSSL object out of PEM text, or throws `code` with `failure` and OpenSSL's reasons.
func readPEM(
    _ pem: String, _ code: CryptoError.Code, _ failure: String,
    _ read: (OpaquePointer) -> OpaquePointer?
) throws(CryptoError) -> OpaquePointer {
    try withMemoryBIO(Array(pem.utf8)) { bio throws(CryptoError) in
        OpenSSLErrorQueue.clear()
        guard let object = read(bio) else { throw CryptoError.drainingQueue(code, failure) }
        return object
    }
}

/// Parses one OpenSSL object out of DER bytes with a `d2i_*` function.
func readDER(
    _ der: [UInt8], _ code: CryptoError.Code, _ failure: String,
    _ read: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> OpaquePointer?
) throws(CryptoError) -> OpaquePointer {
    OpenSSLErrorQueue.clear()
    let object: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
        var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
        return read(&cursor, buffer.count)
    }
    guard let object else { throw CryptoError.drainingQueue(code, failure) }
    return object
}

/// A read-only memory BIO over caller bytes, for the PEM/DER readers.
func withMemoryBIO<Result>(
    _ bytes: [UInt8],
    _ body: (OpaquePointer) throws(CryptoError) -> Result
) throws(CryptoError) -> Result {
    let bio: OpaquePointer? = bytes.withUnsafeBytes { BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }
    guard let bio else { throw CryptoError.drainingQueue(.libraryFailure, "could not allocate a memory BIO") }
    defer { BIO_free(bio) }
    return try body(bio)
}
