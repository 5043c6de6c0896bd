import AccordModel
package import AccordStore

/// How a session packs what it sends into frames within their limits. Pure.
package enum FramePacking {
    /// Consecutive batches of `changes`, each at most `maximumChanges` changes and
    /// `maximumBytes` bytes of `changes` frame (a single change larger than that is a batch of
    /// its own; the frame limit is far above the largest change).
    package static func batches(of changes: [StoredChange], maximumChanges: Int, maximumBytes: Int) -> [Range<Int>] {
        var batches: [Range<Int>] = []
        var start = changes.startIndex
        while start < changes.endIndex {
            var end = start
            var bytes = WireMessage.changesFrameOverhead
            while end < changes.endIndex, end - start < maximumChanges {
                let size = WireMessage.changeEntryBytes(changes[end].encoded)
                if end > start, bytes + size > maximumBytes { break }
                bytes += size
                end += 1
            }
            batches.append(start..<end)
            start = end
        }
        return batches
    }

    /// `entries` in `heads` frames of at most `WireMessage.maximumHeadsEntries` entries and about
    /// `maximumBytes` bytes, each entry's heads capped at `WireMessage.maximumHeadsPerAgreement`
    /// (the peer then learns the rest in a later round).
    package static func headsFrames(_ entries: [HeadsMessage.Entry], maximumBytes: Int) -> [[HeadsMessage.Entry]] {
        var frames: [[HeadsMessage.Entry]] = []
        var frame: [HeadsMessage.Entry] = []
        var bytes = 0
        for entry in entries {
            let capped = HeadsMessage.Entry(agreement: entry.agreement, heads: Array(entry.heads.prefix(WireMessage.maximumHeadsPerAgreement)))
            if !frame.isEmpty, frame.count == WireMessage.maximumHeadsEntries || bytes + capped.encodedBytes > maximumBytes {
                frames.append(frame)
                frame = []
                bytes = 0
            }
            frame.append(capped)
            bytes += capped.encodedBytes
        }
        if !frame.isEmpty { frames.append(frame) }
        return frames
    }
}
