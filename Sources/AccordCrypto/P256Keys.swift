internal import COpenSSL
import COpenSSLShim

/// The private half of a node's ECDSA P-256 key: the TLS key, which also signs every change the
/// node authors.
public struct P256PrivateKey: Sendable {
    let key: EVPKey

    /// Reads a PEM private key (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`, unencrypted).
    public init(pemRepresentation pem: String) throws(CryptoError) {
        key = try EVPKey(taking: readPEM(pem, .invalidKey, "the PEM text holds no readable unencrypted private key") {
            PEM_read_bio_PrivateKey($0, nil, nil, nil)
        })
    }

    /// A fresh random key from OpenSSL's CSPRNG.
    public static func generate() throws(CryptoError) -> P256PrivateKey {
        OpenSSLErrorQueue.clear()
        guard let pointer = accord_generate_p256_key() else {
            throw CryptoError.drainingQueue(.libraryFailure, "could not generate a P-256 key")
        }
        return P256PrivateKey(key: try EVPKey(taking: pointer))
    }

    private init(key: EVPKey) { self.key = key }

    public var publicKey: P256PublicKey { P256PublicKey(key: key) }

    /// The key as PKCS#8 PEM, for writing a generated key to a file the operator controls.
    public var pemRepresentation: String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard PEM_write_bio_PrivateKey(bio, key.pointer, nil, nil, 0, nil, nil) == 1 else {
            OpenSSLErrorQueue.clear()
            return ""
        }
        var data: UnsafeMutablePointer<CChar>? = nil
        let length = accord_BIO_get_mem_data(bio, &data)
        guard length > 0, let data else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    /// ECDSA over SHA-256 of `message`. Signatures are randomised: two calls give different bytes,
    /// both valid.
    public func signature<Message: ContiguousBytes>(for message: Message) throws(CryptoError) -> P256Signature {
        OpenSSLErrorQueue.clear()
        guard let context = EVP_MD_CTX_new() else {
            throw CryptoError.drainingQueue(.libraryFailure, "could not allocate a digest context")
        }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key.pointer) == 1 else {
            throw CryptoError.drainingQueue(.libraryFailure, "could not start an ECDSA signature")
        }
        var der = [UInt8](repeating: 0, count: 80)
        var length = der.count
        let status = message.withUnsafeBytes { input in
            EVP_DigestSign(context, &der, &length, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count)
        }
        guard status == 1 else {
            throw CryptoError.drainingQueue(.libraryFailure, "ECDSA signing failed")
        }
        return try P256Signature(der: Array(der.prefix(length)))
    }
}

/// The public half of a node's key, as found in its certificate.
public struct P256PublicKey: Hashable, Sendable {
    let key: EVPKey
    /// DER SubjectPublicKeyInfo; identity of the key for equality and hashing.
    public let subjectPublicKeyInfo: [UInt8]

    init(key: EVPKey) {
        self.key = key
        self.subjectPublicKeyInfo = key.subjectPublicKeyInfo
    }

    /// Reads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    public init(pemRepresentation pem: String) throws(CryptoError) {
        self.init(key: try EVPKey(taking: readPEM(pem, .invalidKey, "the PEM text holds no readable public key") {
            PEM_read_bio_PUBKEY($0, nil, nil, nil)
        }))
    }

    /// Reads DER SubjectPublicKeyInfo, the form stored beside a node's certificate.
    public init(subjectPublicKeyInfo der: [UInt8]) throws(CryptoError) {
        self.init(key: try EVPKey(taking: readDER(der, .invalidKey, "the bytes are not a DER SubjectPublicKeyInfo") {
            d2i_PUBKEY(nil, $0, $1)
        }))
    }

    /// Whether `signature` is this key's ECDSA signature over SHA-256 of `message`. A malformed
    /// signature is simply not valid; it never throws, so a hostile peer cannot turn a bad
    /// signature into anything but `false`.
    public func isValidSignature<Message: ContiguousBytes>(_ signature: P256Signature, for message: Message) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard let der = signature.der, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key.pointer) == 1 else { return false }
        return message.withUnsafeBytes { input in
            EVP_DigestVerify(
                context, der, der.count, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count
            ) == 1
        }
    }

    /// Whether `der` — an ECDSA signature in DER form, as WebAuthn authenticators and `openssl
    /// dgst` write them — is this key's signature over SHA-256 of `message`. Never throws: a
    /// malformed signature is simply not valid.
    public func isValidSignature<Message: ContiguousBytes>(der: [UInt8], for message: Message) -> Bool {
        OpenSSLErrorQueue.clear()
        defer { OpenSSLErrorQueue.clear() }
        guard !der.isEmpty, der.count <= 80, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, EVP_sha256(), nil, key.pointer) == 1 else { return false }
        return message.withUnsafeBytes { input in
            EVP_DigestVerify(context, der, der.count, input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count) == 1
        }
    }

    public static func == (lhs: P256PublicKey, rhs: P256PublicKey) -> Bool {
        lhs.subjectPublicKeyInfo == rhs.subjectPublicKeyInfo
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(subjectPublicKeyInfo) }
}
