/// How far this node's log is known to be at a peer: everything up to `position` is there (or is
/// not owed to it). Persisted as the peer's acknowledged sequence, so a session resumes delivery
/// where the last one left it (docs/protocol.md, "Cursor"). A pure value.
///
/// Two things vouch for it. A reconciliation round in which neither side found a difference
/// vouches for everything up to its snapshot — but not for changes the live stream still owes
/// from before its start (a former party's), which only their acknowledgement vouches for. Then
/// acknowledgements of the live stream carry it on. Until a clean round, acknowledgements alone
/// cannot move it: a stream acknowledged from the middle says nothing of what came before.
package struct DeliveryCursor: Hashable, Sendable {
    package private(set) var position: Int64
    /// Where the session's live stream started.
    private let streamStart: Int64
    /// The snapshot of the latest clean round, capped at the stream's start.
    private var cleanThrough: Int64?
    /// The live stream is known delivered up to here.
    private var streamDelivered: Int64

    package init(acknowledged: Int64, streamStart: Int64) {
        position = acknowledged
        self.streamStart = streamStart
        streamDelivered = streamStart
    }

    /// A round found no difference, on a snapshot of the log up to `snapshot`.
    package mutating func roundWasClean(snapshot: Int64) {
        cleanThrough = max(cleanThrough ?? 0, min(snapshot, streamStart))
        advance()
    }

    /// The peer acknowledged a live-stream batch ending at `sequence`.
    package mutating func streamAcknowledged(through sequence: Int64) {
        streamDelivered = max(streamDelivered, sequence)
        advance()
    }

    /// The stream has sent everything up to `sequence` and nothing of it is unacknowledged.
    package mutating func streamCaughtUp(through sequence: Int64) {
        streamAcknowledged(through: sequence)
    }

    private mutating func advance() {
        guard let cleanThrough else { return }
        position = max(position, cleanThrough, streamDelivered)
    }
}
