/// A hybrid logical clock stamp: physical milliseconds, a counter for events within the same
/// millisecond (or while the physical clock lags a stamp already seen), and the node that made it.
///
/// Stamps are totally ordered by (`millis`, `counter`, `node`), respect causality (a change's
/// stamp is greater than the stamps of every change it depends on), and stay close to real time.
public struct Stamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let millis: UInt64
    public let counter: UInt32
    public let node: NodeID

    public init(millis: UInt64, counter: UInt32, node: NodeID) {
        self.millis = millis
        self.counter = counter
        self.node = node
    }

    public static func < (lhs: Stamp, rhs: Stamp) -> Bool {
        if lhs.millis != rhs.millis { return lhs.millis < rhs.millis }
        if lhs.counter != rhs.counter { return lhs.counter < rhs.counter }
        return lhs.node < rhs.node
    }

    /// Whether `self` happened at a later logical time than `other`, ignoring which node stamped it.
    func isLogicallyAfter(_ other: Stamp) -> Bool { (millis, counter) > (other.millis, other.counter) }

    public var description: String { "\(millis).\(counter)@\(node)" }
}

/// The clock a node stamps its changes with.
///
/// It never reads a clock itself: callers pass the physical time (milliseconds since the Unix
/// epoch), so the model stays deterministic and tests can drive time precisely.
public struct HybridLogicalClock: Sendable {
    public let node: NodeID
    public private(set) var latest: (millis: UInt64, counter: UInt32)

    public init(node: NodeID) {
        self.node = node
        self.latest = (0, 0)
    }

    /// A stamp later than every stamp made or observed so far, and not earlier than `physicalMillis`.
    public mutating func stamp(physicalMillis: UInt64) -> Stamp {
        if physicalMillis > latest.millis {
            latest = (physicalMillis, 0)
        } else {
            latest.counter += 1
        }
        return Stamp(millis: latest.millis, counter: latest.counter, node: node)
    }

    /// Moves the clock past a stamp received from elsewhere, so the next local stamp orders after it.
    public mutating func observe(_ stamp: Stamp) {
        if (stamp.millis, stamp.counter) > latest { latest = (stamp.millis, stamp.counter) }
    }
}
