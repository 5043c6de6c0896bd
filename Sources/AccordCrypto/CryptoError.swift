internal import COpenSSL

/// A failure in a cryptographic primitive, with OpenSSL's own reasons attached so an operator can
/// tell a malformed key file from an expired certificate without a debugger.
///
/// The code is a struct over a private enum so that new codes can be added without breaking
/// anyone who switches over the existing ones.
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidKey = "invalid key"
            case unsupportedKey = "unsupported key"
            case invalidCertificate = "invalid certificate"
            case invalidSignatureEncoding = "invalid signature encoding"
            case untrustedCertificate = "untrusted certificate"
            case unreadableFile = "unreadable file"
            case libraryFailure = "OpenSSL failure"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Key material could not be parsed (bad PEM/DER, wrong password, truncated file).
        public static let invalidKey = Code(.invalidKey)
        /// The key parsed but is not an ECDSA P-256 key, the only kind Accord signs with.
        public static let unsupportedKey = Code(.unsupportedKey)
        /// A certificate could not be parsed or lacks a field Accord relies on.
        public static let invalidCertificate = Code(.invalidCertificate)
        /// A signature does not have the fixed 64-byte `r || s` shape.
        public static let invalidSignatureEncoding = Code(.invalidSignatureEncoding)
        /// A certificate does not chain to the consortium CA, or is outside its validity period.
        public static let untrustedCertificate = Code(.untrustedCertificate)
        /// A key, certificate or CA file could not be read from disk.
        public static let unreadableFile = Code(.unreadableFile)
        /// OpenSSL failed where it should not (allocation, internal error).
        public static let libraryFailure = Code(.libraryFailure)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What went wrong, in words an operator can act on.
    public let message: String
    /// OpenSSL's error queue at the moment of failure, oldest first.
    public let openSSLReasons: [String]

    public init(_ code: Code, _ message: String, openSSLReasons: [String] = []) {
        self.code = code
        self.message = message
        self.openSSLReasons = openSSLReasons
    }

    public var description: String {
        openSSLReasons.isEmpty ? message : "\(message) (OpenSSL: \(openSSLReasons.joined(separator: "; ")))"
    }

    /// Builds an error and drains OpenSSL's per-thread error queue into it, so that a stale entry
    /// cannot be misread by the next call on this thread.
    static func drainingQueue(_ code: Code, _ message: String) -> CryptoError {
        CryptoError(code, message, openSSLReasons: OpenSSLErrorQueue.drain())
    }
}

/// OpenSSL's error queue is per thread, and one event-loop thread serves many connections: clear
/// it before each call whose failure you will inspect, and drain it right after a failure, or a
/// stale entry turns the next connection's harmless "want read" into a hard error.
public enum OpenSSLErrorQueue {
    /// Every queued error, oldest first, as OpenSSL's text; the queue is left empty.
    public static func drain() -> [String] {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons
    }

    public static func clear() { ERR_clear_error() }
}
