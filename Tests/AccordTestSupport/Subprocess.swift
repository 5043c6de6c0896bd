public import Foundation

/// A child process started with posix_spawn, with every signal unblocked and at its default
/// action (a test runner's blocked signals must not leak into the daemon, or SIGTERM would not
/// reach its graceful shutdown) and no file descriptor of the test process but its output files,
/// which are files so that no pipe can fill up and stall it.
public struct Subprocess: Sendable {
    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signalled(let signal): "signal \(signal)"
            }
        }
    }

    public let pid: pid_t

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift does not import
    /// because glibc declares it only under `_GNU_SOURCE`.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// - Parameter environment: set in the child on top of this process's environment.
    public static func spawn(
        _ executable: String, _ arguments: [String], stdout: String, stderr: String, environment extra: [String: String] = [:]
    ) throws -> Subprocess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        // Nothing else of the test process: an inherited listening socket of another test would
        // keep its port taken after that test closed it.
        guard let closeFrom = Self.closeFrom else { throw POSIXError(.ENOSYS) }
        guard closeFrom(&actions, 3) == 0 else { throw POSIXError(.EINVAL) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var environment = ProcessInfo.processInfo.environment
        environment["ACCORD_SOCKET"] = nil
        environment.merge(extra) { $1 }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }

        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EINVAL) }
        return Subprocess(pid: pid)
    }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Waits for the process to end (polling, so no thread blocks); nil if it outlives `timeout`.
    public func wait(timeout: Duration = .seconds(30)) async throws -> Termination? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                let signal = status & 0x7f
                return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
            }
            if result < 0 { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECHILD) }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Runs a command to completion and returns what it printed. Nothing blocks while it runs.
    /// - Parameter environment: set in the child on top of this process's environment.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(120)
    ) async throws -> CommandResult {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("accord-run-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let process = try spawn(executable, arguments, stdout: "\(folder)/out", stderr: "\(folder)/err", environment: environment)
        guard let termination = try await process.wait(timeout: timeout) else {
            process.signal(SIGKILL)
            _ = try await process.wait()
            throw CommandTimeout(command: ([executable] + arguments).joined(separator: " "))
        }
        func read(_ name: String) -> String { (try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8)) ?? "" }
        return CommandResult(termination: termination, stdout: read("out"), stderr: read("err"))
    }
}

public struct CommandResult: Sendable {
    public let termination: Subprocess.Termination
    public let stdout: String
    public let stderr: String

    public var succeeded: Bool { termination == .exited(0) }
}

public struct CommandTimeout: Error, CustomStringConvertible {
    public let command: String
    public var description: String { "timed out: \(command)" }
}
