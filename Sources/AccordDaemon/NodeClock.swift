import Foundation
import NIOConcurrencyHelpers

/// The node's wall clock in Unix milliseconds: what stamps changes, decides what is held for
/// being ahead, and dates statuses and deadlines. In production the system clock; for fault tests
/// (`accordd --clock-offset-file`) the system clock plus an offset a test rewrites while the node
/// runs, so that a clock can jump and strobe without libfaketime (under which accordd loses its
/// command-line arguments).
public enum NodeClock {
    public static let system: @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }

    /// The system clock plus the signed milliseconds written in `file` (absent or unreadable: 0).
    /// The file is read again whenever it was replaced or modified (its attributes read at each reading), so a
    /// test that rewrote it sees the new offset on the node's very next reading, without sleeping.
    public static func offset(by file: String) -> @Sendable () -> UInt64 {
        let reader = OffsetFile(path: file)
        return {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            return UInt64(max(0, now + reader.offset()))
        }
    }
}

private final class OffsetFile: Sendable {
    /// What identifies one version of the file: a rewrite by rename has a new inode, one in
    /// place a new modification time.
    private struct Version: Equatable {
        let inode: Int
        let modified: Date
    }

    let path: String
    private let cached = NIOLockedValueBox<(version: Version?, offset: Int64)>((nil, 0))

    init(path: String) { self.path = path }

    func offset() -> Int64 {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let inode = attributes[.systemFileNumber] as? Int, let modified = attributes[.modificationDate] as? Date
        else { return 0 }
        let version = Version(inode: inode, modified: modified)
        if let offset = cached.withLockedValue({ $0.version == version ? $0.offset : nil }) { return offset }
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        let offset = text.flatMap { Int64($0) } ?? 0
        cached.withLockedValue { $0 = (version, offset) }
        return offset
    }
}
