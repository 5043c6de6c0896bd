public import Foundation
import NIOConcurrencyHelpers

/// The lines a child process writes to a FIFO, each with the moment this process read it: for
/// tests that time how soon a streaming command (`accordctl watch`) prints something.
public final class LineTap: Sendable {
    public struct Line: Sendable {
        public let text: String
        public let readAt: Date
    }

    /// The FIFO to give the child as its stdout.
    public let path: String
    private let lines = LineBuffer()
    private let stopped = StopFlag()

    /// Makes the FIFO in `folder` and starts reading it (the child may open it later).
    public init(in folder: String, name: String = "tap.fifo") throws {
        path = "\(folder)/\(name)"
        unlink(path)
        guard mkfifo(path, 0o600) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        // Non-blocking, so opening does not wait for the writer; reads then wait in poll(2).
        let descriptor = open(path, O_RDONLY | O_NONBLOCK)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        Thread { [lines, stopped] in
            Self.read(descriptor, into: lines, until: stopped)
            close(descriptor)
        }.start()
    }

    /// The reading thread closes the FIFO when it ends, and only then: closed from here while it
    /// still polled the number, the descriptor went to the next socket the process opened, and
    /// the thread read an admin API answer meant for someone else (a scale run hung on it).
    deinit { stopped.raise() }

    public var all: [Line] { lines.all }

    private static func read(_ descriptor: Int32, into lines: LineBuffer, until stopped: StopFlag) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var writerSeen = false
        while !stopped.isRaised {
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&request, 1, 100) >= 0 else { return }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                writerSeen = true
                let now = Date()
                for byte in buffer[..<count] {
                    if byte == UInt8(ascii: "\n") {
                        let line = Line(text: String(decoding: pending, as: UTF8.self), readAt: now)
                        lines.append(line)
                        pending.removeAll(keepingCapacity: true)
                    } else {
                        pending.append(byte)
                    }
                }
            } else if count == 0, writerSeen {
                return  // the writer closed it
            } else if count == 0 {
                usleep(10_000)  // no writer yet: a FIFO reads as at end until one opens it
            } else if errno != EAGAIN, errno != EINTR {
                return
            }
        }
    }
}

private final class LineBuffer: Sendable {
    private let lines = NIOLockedValueBox<[LineTap.Line]>([])
    var all: [LineTap.Line] { lines.withLockedValue { $0 } }
    func append(_ line: LineTap.Line) { lines.withLockedValue { $0.append(line) } }
}
