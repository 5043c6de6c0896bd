public import Logging
import NIOConcurrencyHelpers

/// Which refusals to log in full and which to fold into a summary: the first refusal of each
/// reason opens a window and is logged with everything known about it; later ones in the window
/// are only counted; when the window has lasted `interval`, one line reports how many there were.
/// A steady flood thus costs two lines per reason and interval, however fast it comes.
/// A pure value; `RefusalLog` guards it and does the logging.
package struct RefusalSummary {
    package struct Window {
        let opened: ContinuousClock.Instant
        var suppressed = 0
        /// The latest suppressed refusal's detail, for the summary line.
        var last: String?
    }

    /// A window's close: how many refusals of `reason` were folded into it.
    package struct Closed: Equatable {
        package let reason: String
        package let suppressed: Int
        package let last: String?

        package init(reason: String, suppressed: Int, last: String?) {
            self.reason = reason
            self.suppressed = suppressed
            self.last = last
        }
    }

    package let interval: Duration
    private(set) var windows: [String: Window] = [:]
    /// Every refusal recorded, by reason, whether logged in full or folded (the metric
    /// `accord_refusals_total`). Reasons are the code's own names, so the table stays small.
    package private(set) var counts: [String: Int] = [:]

    package init(interval: Duration) { self.interval = interval }

    /// Records a refusal; true if it should be logged in full.
    package mutating func record(reason: String, detail: String, at now: ContinuousClock.Instant) -> Bool {
        counts[reason, default: 0] += 1
        if var window = windows[reason], now - window.opened < interval {
            window.suppressed += 1
            window.last = detail
            windows[reason] = window
            return false
        }
        windows[reason] = Window(opened: now)
        return true
    }

    /// Closes the windows that have lasted the interval; those that folded refusals are returned.
    package mutating func closeWindows(at now: ContinuousClock.Instant) -> [Closed] {
        var closed: [Closed] = []
        for (reason, window) in windows.sorted(by: { $0.key < $1.key }) where now - window.opened >= interval {
            windows[reason] = nil
            if window.suppressed > 0 { closed.append(Closed(reason: reason, suppressed: window.suppressed, last: window.last)) }
        }
        return closed
    }
}

/// Logs refusals (of connections, sessions, changes, HTTP requests) once each with their reason,
/// and a flood of them as one summary line per reason and interval (`RefusalSummary`). `flush`
/// closes windows that are due; `run` flushes every interval (accordd runs it for the one log
/// the whole process shares; a `SyncNode` with a log of its own flushes that one), so a summary
/// is never later than two intervals. A refusal also closes the windows that are due before it
/// is recorded.
public final class RefusalLog: Sendable {
    private let logger: Logger
    private let summary: NIOLockedValueBox<RefusalSummary>

    public init(logger: Logger, interval: Duration = .seconds(10)) {
        self.logger = logger
        self.summary = NIOLockedValueBox(RefusalSummary(interval: interval))
    }

    public var interval: Duration { summary.withLockedValue { $0.interval } }

    /// How many refusals of each reason were recorded since the log was made.
    public var counts: [String: Int] { summary.withLockedValue { $0.counts } }

    /// Logs `message` with `metadata` (and the reason) unless refusals of `reason` are being
    /// summarised right now.
    public func refused(
        _ message: Logger.Message, reason: String, level: Logger.Level = .warning, metadata: Logger.Metadata = [:]
    ) {
        let detail = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let now = ContinuousClock.now
        let (logInFull, closed) = summary.withLockedValue { summary in
            let closed = summary.closeWindows(at: now)
            return (summary.record(reason: reason, detail: detail, at: now), closed)
        }
        write(closed)
        guard logInFull else { return }
        var metadata = metadata
        metadata["reason"] = "\(reason)"
        logger.log(level: level, message, metadata: metadata)
    }

    /// Writes the summary line of every window that is due.
    public func flush() {
        write(summary.withLockedValue { $0.closeWindows(at: .now) })
    }

    /// Flushes every interval until cancelled.
    public func run() async throws {
        while true {
            try await Task.sleep(for: interval)
            flush()
        }
    }

    private func write(_ closed: [RefusalSummary.Closed]) {
        for window in closed {
            logger.warning(
                "more refusals of the same reason (summarised)",
                metadata: [
                    "reason": "\(window.reason)", "count": "\(window.suppressed)",
                    "interval": "\(interval)", "last": "\(window.last ?? "")",
                ]
            )
        }
    }
}
