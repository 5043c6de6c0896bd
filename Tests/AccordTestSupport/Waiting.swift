public import Foundation
import NIOConcurrencyHelpers
import Synchronization

/// Polls `condition` until it holds; fails after `timeout`. For convergence, never for timing.
public func eventually(
    _ what: String, timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(25),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    // A sleep can end well past the deadline on a busy machine: what held by then counts.
    if try await condition() { return }
    throw TimedOut(what: what)
}

public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "timed out waiting for: \(what)" }
}

/// Free TCP ports on 127.0.0.1 for the nodes of a test, never the same port twice in one test
/// process. Tests stop and restart nodes on their ports, so a port must stay theirs while it is
/// unbound: handing it to a concurrently running test (as asking the kernel for port 0 would, once
/// it is released) let one test's node dial another test's node. The ports come from below the
/// kernel's ephemeral range (32768 and up here), so outgoing connections never take them either.
public func freePorts(_ count: Int) throws -> [Int] {
    var ports: [Int] = []
    while ports.count < count {
        let port = PortCursor.next.add(1, ordering: .relaxed).oldValue
        guard port < PortCursor.end else { throw POSIXError(.EADDRNOTAVAIL) }
        if isBindable(port) { ports.append(port) }
    }
    return ports
}

private enum PortCursor {
    static let end = 32_000
    /// Spread by process id, so two test processes on one machine are unlikely to meet.
    static let next = Synchronization.Atomic<Int>(20_000 + Int(getpid() % 100) * 100)
}

private func isBindable(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// The process's resident memory in MiB, after glibc returned what it keeps of freed memory (its
/// per-thread arenas otherwise hold on to peaks and hide whether anything is still in use).
public func residentMegabytes() -> Double {
    if let trim = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
        _ = unsafeBitCast(trim, to: (@convention(c) (Int) -> Int32).self)(0)
    }
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kilobytes / 1024
}

/// Another process's memory, in MiB, from /proc: `VmRSS` now and `VmHWM`, the peak since it started.
public struct ProcessMemory: Sendable {
    public let resident: Double
    public let peak: Double

    public init?(pid: pid_t) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Double? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }),
                let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
            else { return nil }
            return kilobytes / 1024
        }
        guard let resident = field("VmRSS:"), let peak = field("VmHWM:") else { return nil }
        self.resident = resident
        self.peak = peak
    }
}

/// The largest of the values observed by concurrent tasks.
public final class Maximum: Sendable {
    private let value: NIOLockedValueBox<Double>

    public init(_ initial: Double = -.infinity) { value = NIOLockedValueBox(initial) }

    public func observe(_ sample: Double) { value.withLockedValue { $0 = max($0, sample) } }

    public var maximum: Double { value.withLockedValue { $0 } }
}

/// CPU time a process has used so far (user + system), from /proc/PID/stat.
public func processCPUSeconds(pid: pid_t) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state is field 3, utime 14, stime 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// A count that concurrent tasks share.
public final class Tally: Sendable {
    private let count = Synchronization.Atomic<Int>(0)

    public init() {}

    /// Adds one; returns the new count.
    @discardableResult
    public func increment() -> Int { count.add(1, ordering: .relaxed).newValue }

    public var value: Int { count.load(ordering: .relaxed) }
}

/// A flag one task raises and others poll between steps: stop after the current one.
public final class StopFlag: Sendable {
    private let raised = Synchronization.Atomic(false)

    public init() {}

    public var isRaised: Bool { raised.load(ordering: .acquiring) }

    public func raise() { raised.store(true, ordering: .releasing) }
}
