import Foundation
import Synchronization

/// The node's wall clock in Unix milliseconds: what stamps changes, decides what is held for
/// being ahead, and dates statuses and deadlines. In production the system clock; for fault tests
/// (`accordd --clock-offset-file`) the system clock plus an offset a test rewrites while the node
/// runs, so that a clock can jump and strobe without libfaketime (under which accordd loses its
/// command-line arguments).
public enum NodeClock {
    public static let system: @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }

    /// The system clock plus the signed milliseconds written in `file` (absent or unreadable: 0),
    /// read again at most every 20 ms.
    public static func offset(by file: String) -> @Sendable () -> UInt64 {
        let reader = OffsetFile(path: file)
        return {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            return UInt64(max(0, now + reader.offset(at: now)))
        }
    }
}

private final class OffsetFile: Sendable {
    let path: String
    private let cached = Mutex<(readAt: Int64?, offset: Int64)>((nil, 0))

    init(path: String) { self.path = path }

    func offset(at now: Int64) -> Int64 {
        let fresh = cached.withLock { cached -> Int64? in
            guard let readAt = cached.readAt, abs(now - readAt) < 20 else { return nil }
            return cached.offset
        }
        if let fresh { return fresh }
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        let offset = text.flatMap { Int64($0) } ?? 0
        cached.withLock { $0 = (now, offset) }
        return offset
    }
}
