package import AccordModel

/// The decoded replicas of recently used agreements. A node may hold far more agreements than
/// fit in memory as replicas; the rest are rebuilt from the log when next needed.
///
/// Eviction is approximately least-recently-used: when the cache overflows, the least recently
/// used half is dropped at once, which keeps the amortised cost per access at O(log n).
package struct ReplicaCache {
    private var entries: [AgreementID: (replica: AgreementReplica, lastUse: UInt64)] = [:]
    private var clock: UInt64 = 0
    package let capacity: Int

    package init(capacity: Int) { self.capacity = max(capacity, 1) }

    package var count: Int { entries.count }

    package mutating func get(_ id: AgreementID) -> AgreementReplica? {
        guard let entry = entries[id] else { return nil }
        clock += 1
        entries[id]!.lastUse = clock
        return entry.replica
    }

    /// Removes and returns a replica, so the caller holds the only reference and can mutate it
    /// without a copy-on-write of all its collections. `put` it back afterwards.
    package mutating func take(_ id: AgreementID) -> AgreementReplica? {
        entries.removeValue(forKey: id)?.replica
    }

    package mutating func put(_ replica: AgreementReplica) {
        clock += 1
        entries[replica.id] = (replica, clock)
        if entries.count > capacity {
            let keep = entries.sorted { $0.value.lastUse > $1.value.lastUse }.prefix(capacity / 2 + 1)
            entries = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }

    package mutating func evict(_ ids: some Sequence<AgreementID>) {
        for id in ids { entries[id] = nil }
    }
}
