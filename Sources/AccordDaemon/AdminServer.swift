import AccordAdminAPI
public import AccordSync
import Foundation
public import Logging
import NIOCore
import NIOHTTP1
public import NIOPosix
import Synchronization

/// Why the admin socket could not be opened.
public struct AdminSocketError: Error, CustomStringConvertible {
    public let path: String
    public let message: String

    public var description: String { "admin socket \(path): \(message)" }
}

/// The admin API's HTTP/1.1 server on a Unix domain socket (NIOHTTP1 parses; nothing here does).
///
/// Only the socket's permissions guard it — anyone who can connect can edit agreements in the
/// node's name — so it is created with the configured mode (0600 by default) and never on TCP.
public final class AdminServer: Sendable {
    /// Connections served at once; a connection beyond them is closed at once (and logged).
    public static let maximumConnections = 32
    public let path: String
    private let listener: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let logger: Logger
    /// A flood of refused connections is summarised, not logged line by line.
    private let refusals: RefusalLog

    /// Binds the socket. A socket file left by a process that is gone is replaced; one that a
    /// live process still answers on is an error (two daemons must not share a node's socket).
    public init(
        path: String, mode: Int, logger: Logger, refusals: RefusalLog, group: MultiThreadedEventLoopGroup = .singleton
    ) async throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw AdminSocketError(path: path, message: "cannot create its folder \(folder): \(error)")
        }
        try Self.removeStaleSocket(at: path)
        // A socket file is created with the process's umask, and setting its mode afterwards
        // leaves a window in which anyone may connect (and keep the connection). So it is bound
        // inside a fresh folder only the daemon can enter (mkdtemp: 0700 whatever the umask),
        // given its mode there, and only then renamed into place.
        var template = Array("\(folder)/.accordd-admin-XXXXXX".utf8CString)
        guard let privateFolder = mkdtemp(&template).map({ String(cString: $0) }) else {
            throw AdminSocketError(path: path, message: "cannot create a private folder next to it: \(String(cString: strerror(errno)))")
        }
        defer { rmdir(privateFolder) }
        let unplaced = "\(privateFolder)/admin.sock"
        do {
            listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .bind(unixDomainSocketPath: unplaced) { channel in
                    channel.eventLoop.makeCompletedFuture { try HTTPListener.connection(channel, maximumHeaderBytes: 64 * 1024) }
                }
        } catch {
            throw AdminSocketError(path: path, message: "cannot listen: \(error)")
        }
        guard chmod(unplaced, mode_t(mode)) == 0, rename(unplaced, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(unplaced)
            try? await listener.channel.close()
            throw AdminSocketError(path: path, message: "cannot set its permissions and put it in place: \(reason)")
        }
        self.path = path
        self.logger = logger
        self.refusals = refusals
    }

    private static func removeStaleSocket(at path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw AdminSocketError(path: path, message: "exists and is not a socket; remove it or choose another admin.socket")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        let address = try SocketAddress(unixDomainSocketPath: path)
        let connected = address.withSockAddr { pointer, length in connect(probe, pointer, socklen_t(length)) } == 0
        if connected {
            throw AdminSocketError(path: path, message: "is in use by another running process (is another accordd running with this configuration?)")
        }
        unlink(path)
    }

    /// Serves until cancelled, then closes the socket and removes its file.
    public func run(_ handler: @escaping @Sendable (AdminRequest) async -> AdminResponse) async throws {
        defer { unlink(path) }
        try await HTTPListener(
            listener: listener, maximumConnections: Self.maximumConnections, refusalReason: "too-many-admin-connections",
            maximumBodyBytes: AdminAPI.maximumRequestBytes, logger: logger, refusals: refusals
        ).run(handler)
    }
}
