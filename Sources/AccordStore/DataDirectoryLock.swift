#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on a data directory, so that two daemons never write one database.
///
/// `flock` locks belong to the open file description: they are released when the process dies
/// (even by SIGKILL), and a second open in the same process conflicts too, which keeps the check
/// testable in-process.
final class DataDirectoryLock {
    private let descriptor: Int32

    init(directory: String) throws(StoreError) {
        let path = directory + "/accord.lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            throw StoreError(.unavailable, "cannot open the lock file: \(reason)", path: path)
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = DataDirectoryLock.recordedHolder(descriptor)
            close(descriptor)
            throw StoreError(
                .locked,
                "another accordd (\(holder)) is using this data directory; stop it or choose another directory",
                path: directory
            )
        }
        ftruncate(descriptor, 0)
        let pid = "pid \(getpid())\n"
        _ = pid.withCString { write(descriptor, $0, strlen($0)) }
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    private static func recordedHolder(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = pread(descriptor, &buffer, buffer.count, 0)
        guard count > 0 else { return "pid unknown" }
        return String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: "\n")
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        String(self.drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
