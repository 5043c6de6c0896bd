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
    ///
    /// Computed here (Howard Hinnant's civil-from-days), not with `ISO8601DateFormatter`: that
    /// one goes through ICU on Linux, whose calendar and time-zone data then stay resident —
    /// 4.8 MB of every node's memory in the scale scenario (BENCHMARKS.md) — and it is built anew
    /// for each call.
    public static func timestamp(millis: UInt64) -> String {
        let days = Int(millis / 86_400_000) + 719_468
        let era = days / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        let time = Int(millis % 86_400_000)
        func digits(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(digits(year, 4))-\(digits(month, 2))-\(digits(day, 2))T\(digits(time / 3_600_000, 2)):"
            + "\(digits(time / 60_000 % 60, 2)):\(digits(time / 1000 % 60, 2)).\(digits(time % 1000, 3))Z"
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
