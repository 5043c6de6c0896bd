/// How long to wait before dialling a peer again: exponential backoff with full jitter within
/// `bounds` — doubling from the lower bound with each failure up to the upper one, and a random
/// point between the lower bound and that ceiling, so that nodes that lost a peer together do not
/// all dial it again together. A pure value; the caller draws the jitter.
package struct ReconnectBackoff: Hashable, Sendable {
    package let bounds: ClosedRange<Duration>

    package init(bounds: ClosedRange<Duration>) { self.bounds = bounds }

    /// The delay after `failures` failures in a row, `jitter` in 0...1.
    package func delay(afterFailures failures: Int, jitter: Double) -> Duration {
        guard failures > 0 else { return bounds.lowerBound }
        let ceiling = min(bounds.upperBound, bounds.lowerBound * (1 << min(failures - 1, 16)))
        return bounds.lowerBound + (ceiling - bounds.lowerBound) * min(max(jitter, 0), 1)
    }
}
