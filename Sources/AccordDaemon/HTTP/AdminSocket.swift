import Foundation
import Glibc
import NIOCore

/// Why the admin socket could not be opened.
public struct AdminSocketError: Error, CustomStringConvertible {
    public let path: String
    public let message: String

    public var description: String { "admin socket \(path): \(message)" }
}

/// Where the admin API listens: a Unix domain socket with the configured mode, never on TCP.
/// Only the socket's permissions guard it — anyone who can connect can edit agreements in the
/// node's name. A socket file is created with the process's umask, and setting its mode
/// afterwards leaves a window in which anyone may connect (and keep the connection); so the
/// socket is bound inside a fresh folder only the daemon can enter (mkdtemp: 0700 whatever the
/// umask), given its mode there, and only then renamed into place (`place`).
struct AdminSocket: Sendable {
    let path: String
    let mode: Int
    /// The private folder it is bound in before `place` moves it to `path`.
    let privateFolder: String

    var unplacedPath: String { "\(privateFolder)/admin.sock" }

    /// Makes the socket's folder (0700) and the private folder, after checking that no live
    /// process answers on `path` (a socket left by a killed process is replaced later).
    ///
    /// - Throws: `AdminSocketError`.
    init(path: String, mode: Int) throws {
        self.path = path
        self.mode = mode
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw AdminSocketError(path: path, message: "cannot create its folder \(folder): \(error)")
        }
        try Self.checkNotInUse(path)
        var template = Array("\(folder)/.accordd-admin-XXXXXX".utf8CString)
        guard let privateFolder = mkdtemp(&template).map({ String(cString: $0) }) else {
            throw AdminSocketError(path: path, message: "cannot create a private folder next to it: \(String(cString: strerror(errno)))")
        }
        self.privateFolder = privateFolder
    }

    /// Gives the bound socket its mode and moves it to `path` (replacing a stale socket file).
    func place() throws {
        guard chmod(unplacedPath, mode_t(mode)) == 0, rename(unplacedPath, path) == 0 else {
            let reason = String(cString: strerror(errno))
            throw AdminSocketError(path: path, message: "cannot set its permissions and put it in place: \(reason)")
        }
        rmdir(privateFolder)
    }

    /// Removes the socket file and the private folder (at stop, or after a failed start).
    func remove() {
        unlink(unplacedPath)
        rmdir(privateFolder)
        unlink(path)
    }

    private static func checkNotInUse(_ path: String) throws {
        // The file itself, not what a symbolic link points to.
        guard let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType else { return }
        guard type == .typeSocket else {
            throw AdminSocketError(path: path, message: "exists and is not a socket; remove it or choose another admin.socket")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        let address = try SocketAddress(unixDomainSocketPath: path)
        let connected = address.withSockAddr { pointer, length in connect(probe, pointer, socklen_t(length)) } == 0
        if connected {
            throw AdminSocketError(path: path, message: "is in use by another running process (is another accordd running with this configuration?)")
        }
    }
}
