public import AccordModel
public import AccordStore
public import AccordCrypto

/// Decides which changes of one agreement a peer lacks, from the heads it reported. Pure.
public enum RepairPlanner {
    /// The heads of a log: its changes that no other change of the log depends on.
    public static func heads(of log: [StoredChange]) -> [ChangeID] {
        let dependedOn = Set(log.lazy.flatMap(\.dependencies))
        return log.map(\.change.id).filter { !dependedOn.contains($0) }.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    /// The changes of `log` not in the causal past of `peerHeads`, in log (causal) order.
    ///
    /// When every head of the peer is known here, that is exact. A head unknown here means the
    /// peer has changes this node lacks, and their causal past cannot be computed here: then the
    /// changes the peer has acknowledged (`sequence ≤ acknowledgedThrough`) are left out too, so
    /// concurrent edits during a partition cost only the new changes, not the whole history. If
    /// that guess is ever wrong (the peer lost data it had acknowledged), the next round finds the
    /// agreement still different, with the peer's heads now known, and sends exactly.
    public static func changesToSend(
        log: [StoredChange], peerHeads: [ChangeID], acknowledgedThrough: Int64
    ) -> [StoredChange] {
        let index = Dictionary(log.map { ($0.change.id, $0) }, uniquingKeysWith: { first, _ in first })
        var past = Set<ChangeID>()
        var frontier = peerHeads.filter { index[$0] != nil }
        let allKnown = frontier.count == peerHeads.count
        while let id = frontier.popLast() {
            guard past.insert(id).inserted, let stored = index[id] else { continue }
            frontier += stored.dependencies.filter { !past.contains($0) }
        }
        return log.filter { stored in
            !past.contains(stored.change.id) && (allKnown || stored.sequence > acknowledgedThrough)
        }
    }
}
