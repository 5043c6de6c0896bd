import Foundation

/// A minimal HTTP/1.1 client for a node's admin socket (or one of its loopback TCP listeners:
/// the console, the metrics), for tests that time what the admin API
/// shows (an `accordctl` process per request would measure process start-up instead). One
/// keep-alive connection, read and written with blocking calls on a serial queue of the
/// client's own, so that a node slow to answer holds that queue's thread, never the cooperative
/// pool the tests run on.
public final class AdminSocketClient: @unchecked Sendable {
    public struct Response: Sendable {
        public let status: Int
        public let body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Where the node listens.
    public enum Endpoint: Sendable {
        case unixSocket(String)
        case loopback(port: Int)
    }

    private let endpoint: Endpoint
    private var descriptor: Int32 = -1
    /// Owns `descriptor`: every request runs on it, one at a time.
    private let queue = DispatchQueue(label: "accord.test.admin-socket-client")

    public init(socket path: String) { endpoint = .unixSocket(path) }

    /// A client of a listener on 127.0.0.1.
    public init(loopbackPort port: Int) { endpoint = .loopback(port: port) }

    deinit { if descriptor >= 0 { close(descriptor) } }

    public func get(_ target: String) async throws -> Response { try await request("GET", target, body: nil) }

    public func post(_ target: String, json: String) async throws -> Response {
        try await request("POST", target, body: Array(json.utf8))
    }

    /// Sends one request on the kept connection (opening it if needed) and reads the whole answer.
    public func request(_ method: String, _ target: String, body: [UInt8]?) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try self.exchange(method, target, body: body) }) }
        }
    }

    /// The same request, made on the calling thread (`queue.sync`): for a benchmark's client
    /// threads, which time each call and must not time a hop between threads. Never from a task.
    public func blockingRequest(_ method: String, _ target: String, body: [UInt8]?) throws -> Response {
        try queue.sync { try exchange(method, target, body: body) }
    }

    public func blockingGet(_ target: String) throws -> Response { try blockingRequest("GET", target, body: nil) }

    public func blockingPost(_ target: String, json: String) throws -> Response {
        try blockingRequest("POST", target, body: Array(json.utf8))
    }

    /// On `queue` only.
    private func exchange(_ method: String, _ target: String, body: [UInt8]?) throws -> Response {
        if descriptor < 0 { descriptor = try Self.connect(endpoint) }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: accordd\r\n"
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        do {
            try Self.write(descriptor, Array(head.utf8) + (body ?? []))
            return try Self.readResponse(descriptor)
        } catch {
            close(descriptor)
            descriptor = -1
            throw error
        }
    }

    /// Sends `GET target` on a connection of its own with a receive buffer of `receiveBuffer`
    /// bytes and reads nothing: a subscriber of the event stream that never reads. Read it later
    /// with `drain`; close the descriptor when done.
    public func stalledRequest(_ target: String, receiveBuffer: Int32 = 4096) throws -> Int32 {
        let fd = try Self.connect(endpoint)
        var size = receiveBuffer
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        try Self.write(fd, Array("GET \(target) HTTP/1.1\r\nHost: accordd\r\n\r\n".utf8))
        return fd
    }

    /// Everything `fd` delivers until the other side closes it, or `timeout` passes. Between
    /// reads it sleeps as a task, so no thread waits on the socket.
    public static func drain(_ fd: Int32, timeout: Duration = .seconds(30)) async throws -> [UInt8] {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var request = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&request, 1, 0) >= 0 else { break }
            guard request.revents != 0 else {
                try await Task.sleep(for: .milliseconds(10))
                continue
            }
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            received += chunk[..<count]
        }
        return received
    }

    /// A connected stream socket to `endpoint`; the caller closes it.
    public static func connect(_ endpoint: Endpoint) throws -> Int32 {
        switch endpoint {
        case .unixSocket(let path): try connect(path)
        case .loopback(let port): try connect(loopbackPort: port)
        }
    }

    /// A connected TCP socket to 127.0.0.1:`port`, for tests that hold connections open without
    /// speaking; the caller closes it.
    public static func connect(loopbackPort port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return try finishConnecting(fd, connected)
    }

    /// A connected Unix-domain stream socket to `path`, for tests that hold connections open
    /// without speaking; the caller closes it.
    public static func connect(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw POSIXError(.ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return try finishConnecting(fd, connected)
    }

    /// Closes `fd` and throws if `connect` failed; else gives it a receive timeout.
    private static func finishConnecting(_ fd: Int32, _ connected: Int32) throws -> Int32 {
        guard connected == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .ECONNREFUSED)
        }
        // An answer that never comes fails the call instead of blocking its thread for ever.
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    private static func write(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EPIPE) }
            offset += written
        }
    }

    private static func readResponse(_ fd: Int32) throws -> Response {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() throws {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EAGAIN { throw POSIXError(.ETIMEDOUT) }
            guard count > 0 else { throw POSIXError(.ECONNRESET) }
            buffer += chunk[..<count]
        }
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            try fill()
            headEnd = buffer.firstRange(of: separator)?.upperBound
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        while buffer.count < headEnd! + length { try fill() }
        return Response(status: status, body: Array(buffer[headEnd!..<(headEnd! + length)]))
    }
}
