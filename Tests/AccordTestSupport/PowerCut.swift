import Foundation

/// Power loss for one node (docs/reliability.md, "Power loss"): accordd runs with
/// Tests/PowerCut/powercut.c preloaded, which keeps an undo log of every write to its data
/// directory since that file's last sync; after a SIGKILL, `cut()` applies the logs backwards, so
/// that each file is as it was at its last fsync — everything not yet synced is lost, as at a power
/// cut. `discard()` instead keeps what was written (a plain SIGKILL: the kernel flushes it).
public struct PowerCut: Sendable {
    /// What a cut took back.
    public struct Loss: Sendable, Equatable {
        public var files = 0
        public var writesUndone = 0
        /// Bytes of file content put back or cut off.
        public var bytesUndone: UInt64 = 0

        public init() {}

        public static func + (lhs: Loss, rhs: Loss) -> Loss {
            var sum = lhs
            sum.files += rhs.files
            sum.writesUndone += rhs.writesUndone
            sum.bytesUndone += rhs.bytesUndone
            return sum
        }
    }

    public let dataDirectory: String
    /// Where the undo logs go (outside the data directory, so that they are not logged themselves).
    public let undoDirectory: String

    public init(dataDirectory: String, undoDirectory: String) throws {
        self.dataDirectory = dataDirectory
        self.undoDirectory = undoDirectory
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: undoDirectory, withIntermediateDirectories: true)
    }

    /// The environment that makes a process keep undo logs for this data directory.
    public func environment() async throws -> [String: String] {
        ["LD_PRELOAD": try await Self.library(), "ACCORD_POWERCUT_WATCH": dataDirectory, "ACCORD_POWERCUT_UNDO": undoDirectory]
    }

    /// After the process was killed: undoes every write not yet synced, newest first, and removes
    /// the wal-index (`-shm`), which is shared memory, not durable state.
    @discardableResult
    public func cut() throws -> Loss {
        var loss = Loss()
        for name in try FileManager.default.contentsOfDirectory(atPath: undoDirectory) where name.hasSuffix(".undo") {
            let log = "\(undoDirectory)/\(name)"
            let target = "\(dataDirectory)/\(name.dropLast(".undo".count))"
            if FileManager.default.fileExists(atPath: target) {
                let (writes, bytes) = try Self.undo(log: try Data(contentsOf: URL(fileURLWithPath: log)), file: target)
                loss.files += 1
                loss.writesUndone += writes
                loss.bytesUndone += bytes
            }
            try FileManager.default.removeItem(atPath: log)
        }
        for name in try FileManager.default.contentsOfDirectory(atPath: dataDirectory) where name.hasSuffix("-shm") {
            try FileManager.default.removeItem(atPath: "\(dataDirectory)/\(name)")
        }
        return loss
    }

    /// After a plain SIGKILL: what was written stays; the logs of it go.
    public func discard() throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: undoDirectory) {
            try FileManager.default.removeItem(atPath: "\(undoDirectory)/\(name)")
        }
    }

    /// Applies one file's undo records (offset, size before, old bytes) in reverse order.
    static func undo(log: Data, file: String) throws -> (writes: Int, bytes: UInt64) {
        var records: [(offset: UInt64, oldSize: UInt64, old: Data)] = []
        var position = 0
        func word() throws -> UInt64 {
            guard position + 8 <= log.count else { throw TestFailure("\(file): undo log cut short at byte \(position)") }
            defer { position += 8 }
            return log[log.startIndex + position..<log.startIndex + position + 8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        }
        while position < log.count {
            let (offset, oldSize, length) = (try word(), try word(), try word())
            guard position + Int(length) <= log.count else { throw TestFailure("\(file): undo log cut short in a record at \(position)") }
            records.append((offset, oldSize, log.subdata(in: log.startIndex + position..<log.startIndex + position + Int(length))))
            position += Int(length)
        }
        let descriptor = open(file, O_WRONLY)
        guard descriptor >= 0 else { throw TestFailure("\(file): cannot open to undo: errno \(errno)") }
        defer { close(descriptor) }
        var bytes: UInt64 = 0
        for record in records.reversed() {
            let written = record.old.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(record.offset)) }
            guard written == record.old.count else { throw TestFailure("\(file): undo write failed: errno \(errno)") }
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { throw TestFailure("\(file): fstat failed: errno \(errno)") }
            guard ftruncate(descriptor, off_t(record.oldSize)) == 0 else { throw TestFailure("\(file): undo truncate failed: errno \(errno)") }
            bytes += UInt64(record.old.count) + UInt64(max(0, Int64(status.st_size) - Int64(record.oldSize)))
        }
        return (records.count, bytes)
    }

    /// The preload library, compiled once per process from Tests/PowerCut/powercut.c with the
    /// system C compiler (or the toolchain's clang).
    public static func library() async throws -> String {
        try await compiled.value
    }

    private static let compiled = Task<String, any Error> {
        let source = "\(TestCertificates.repository)/Tests/PowerCut/powercut.c"
        let output = TestCertificates.temporaryFolder("accord-powercut") + "/libaccordpowercut.so"
        do {
            try FileManager.default.createDirectory(atPath: (output as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let compiler = ["/usr/bin/cc", "/usr/bin/clang"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "clang"
            try await TestCertificates.shell("-c", ["\(compiler) -shared -fPIC -O2 -Wall -Werror -o '\(output)' '\(source)' -ldl -lpthread"])
            return output
        } catch {
            throw TestFailure("cannot build the power-cut library from \(source): \(error)")
        }
    }
}
