import Foundation

/// A small tmpfs of our own, to fill a disk or make it read-only for real. Needs root (CI is).
public struct TmpfsMount: Sendable {
    public let path: String

    public static let isAvailable: Bool = {
        guard getuid() == 0, let probe = try? TmpfsMount(size: "64k") else { return false }
        probe.unmount()
        return true
    }()

    public init(size: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("accord-tmpfs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try TmpfsMount.run(["mount", "-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
    }

    public func resize(_ size: String) throws { try TmpfsMount.run(["mount", "-o", "remount,size=\(size)", path]) }

    public func remount(readOnly: Bool) throws { try TmpfsMount.run(["mount", "-o", readOnly ? "remount,ro" : "remount,rw", path]) }

    /// Bytes free for an unprivileged writer.
    public var freeBytes: Int {
        var status = statvfs()
        guard statvfs(path, &status) == 0 else { return 0 }
        return Int(status.f_bavail) * Int(status.f_frsize)
    }

    /// Takes all but about `room` bytes of the free space with a file of that name; removing it
    /// gives the space back. Allocated, not written (filling hundreds of megabytes costs nothing),
    /// in halving chunks until none fits, then cut back by `room`: the free space a file system
    /// reports is not exactly what it will allocate.
    @discardableResult
    public func fill(leaving room: Int, name: String = "filler") throws -> String {
        let filler = "\(path)/\(name)"
        let descriptor = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw TestFailure("cannot create \(filler): errno \(errno)") }
        defer { close(descriptor) }
        var (allocated, chunk): (off_t, off_t) = (0, 64 << 20)
        while chunk >= 4096 {
            if posix_fallocate(descriptor, allocated, chunk) == 0 { allocated += chunk } else { chunk /= 2 }
        }
        guard ftruncate(descriptor, max(0, allocated - off_t(room))) == 0 else { throw TestFailure("cannot size \(filler): errno \(errno)") }
        return filler
    }

    public func unmount() {
        try? TmpfsMount.run(["umount", path])
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("\(arguments.joined(separator: " ")) failed") }
    }
}
