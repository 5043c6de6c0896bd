public import Foundation

/// The admin API of `accordd`, version 1: HTTP/1.1 with JSON bodies on a Unix domain socket.
/// The shapes here are the contract between `accordd` and `accordctl` (and anyone with
/// `curl --unix-socket`); docs/admin-api.md describes every path.
///
/// Times are RFC 3339 strings in UTC with milliseconds, ids are lower-case UUIDs, digests and
/// change ids lower-case hex: what an operator can read, paste and compare.
public enum AdminAPI {
    public static let version = "v1"
    /// The socket path `accordctl` uses when neither `--socket` nor `ACCORD_SOCKET` says otherwise.
    public static let defaultSocketPath = "/run/accord/admin.sock"
    /// Request bodies larger than this are refused (413) before they are read to the end.
    public static let maximumRequestBytes = 1024 * 1024

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder { JSONDecoder() }

    /// Unix milliseconds as an RFC 3339 timestamp, e.g. `2026-11-25T10:45:27.120Z`.
    public static func timestamp(millis: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}

/// Every failed request answers with this body and a 4xx or 5xx status.
public struct ErrorResponse: Codable, Sendable, Error, CustomStringConvertible {
    /// A stable, kebab-case name scripts can match (`not-found`, `bad-request`, `author-not-party`…).
    public var code: String
    /// One sentence an operator can act on.
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
