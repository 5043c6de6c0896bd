internal import COpenSSL

/// An ECDSA P-256 signature in its fixed-size form: `r || s`, each a 32-byte big-endian integer.
///
/// Accord puts signatures on the wire and in storage in this form rather than DER: it is 64 bytes
/// every time (DER varies from 70 to 72), which keeps a one-field change small and its framing
/// trivial.
public struct P256Signature: Hashable, Sendable {
    public static let byteCount = 64

    public let rawRepresentation: [UInt8]

    public init(rawRepresentation: [UInt8]) throws(CryptoError) {
        guard rawRepresentation.count == Self.byteCount else {
            throw CryptoError(
                .invalidSignatureEncoding,
                "an ECDSA P-256 signature is \(Self.byteCount) bytes (r || s), got \(rawRepresentation.count)"
            )
        }
        self.rawRepresentation = rawRepresentation
    }

    /// Converts OpenSSL's DER `ECDSA-Sig-Value` into `r || s`.
    init(der: [UInt8]) throws(CryptoError) {
        let signature: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let signature else {
            throw CryptoError.drainingQueue(.invalidSignatureEncoding, "OpenSSL produced an unreadable DER signature")
        }
        defer { ECDSA_SIG_free(signature) }
        var raw = [UInt8](repeating: 0, count: Self.byteCount)
        let written = raw.withUnsafeMutableBufferPointer { buffer in
            BN_bn2binpad(ECDSA_SIG_get0_r(signature), buffer.baseAddress, 32)
                + BN_bn2binpad(ECDSA_SIG_get0_s(signature), buffer.baseAddress! + 32, 32)
        }
        guard written == Self.byteCount else {
            throw CryptoError.drainingQueue(.invalidSignatureEncoding, "a signature component exceeds 32 bytes")
        }
        self.rawRepresentation = raw
    }

    /// DER for OpenSSL's verifier; `nil` if the components are not valid integers.
    var der: [UInt8]? {
        guard let signature = ECDSA_SIG_new() else { return nil }
        defer { ECDSA_SIG_free(signature) }
        let (r, s) = rawRepresentation.withUnsafeBufferPointer { buffer in
            (BN_bin2bn(buffer.baseAddress, 32, nil), BN_bin2bn(buffer.baseAddress! + 32, 32, nil))
        }
        guard let r, let s else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        guard ECDSA_SIG_set0(signature, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            return nil
        }
        var output: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_ECDSA_SIG(signature, &output)
        guard length > 0, let output else { return nil }
        defer { CRYPTO_free(output, #fileID, #line) }
        return Array(UnsafeBufferPointer(start: output, count: Int(length)))
    }
}

extension P256Signature {
    /// The DER `ECDSA-Sig-Value` (a SEQUENCE of the INTEGERs r and s), the form `openssl dgst
    /// -verify` reads: for evidence bundles checked with nothing but the openssl command.
    public var derRepresentation: [UInt8] {
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var value = Array(bytes.drop { $0 == 0 })
            if value.isEmpty { value = [0] }
            if value[0] & 0x80 != 0 { value.insert(0, at: 0) }
            return [0x02, UInt8(value.count)] + value
        }
        let body = integer(rawRepresentation[0..<32]) + integer(rawRepresentation[32..<64])
        return [0x30, UInt8(body.count)] + body
    }
}
