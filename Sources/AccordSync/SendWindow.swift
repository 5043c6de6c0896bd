/// The change batches a session has sent and the peer has not acknowledged yet, each numbered
/// (from 0, per direction, wrapping at 2³²) and remembered as part of the live stream or as a
/// repair. At most `capacity` are in flight; the sender waits for an acknowledgement beyond that.
/// A pure value.
package struct SendWindow: Hashable, Sendable {
    package enum Kind: Hashable, Sendable {
        /// Live push of the log through this sequence number.
        case stream(through: Int64)
        case repair
    }

    package let capacity: Int
    private var inFlight: [UInt32: Kind] = [:]
    private var nextNumber: UInt32 = 0

    package init(capacity: Int) { self.capacity = capacity }

    package var count: Int { inFlight.count }
    package var isEmpty: Bool { inFlight.isEmpty }
    package var hasRoom: Bool { inFlight.count < capacity }
    /// Whether any batch of the live stream awaits its acknowledgement.
    package var isStreaming: Bool { inFlight.values.contains { if case .stream = $0 { true } else { false } } }

    /// Numbers the next batch and counts it in flight.
    package mutating func reserve(_ kind: Kind) -> UInt32 {
        let number = nextNumber
        nextNumber &+= 1
        inFlight[number] = kind
        return number
    }

    /// The peer acknowledged `number`; returns what the batch was.
    ///
    /// - Throws: `SessionError.protocolViolation` for a batch that is not in flight.
    package mutating func acknowledge(_ number: UInt32) throws(SessionError) -> Kind {
        guard let kind = inFlight.removeValue(forKey: number) else {
            throw SessionError(.protocolViolation, "acknowledgement of batch \(number), which is not in flight")
        }
        return kind
    }
}
