import AccordModel
import AccordStore
import Testing

@Suite("Replica cache")
struct ReplicaCacheTests {
    @Test("beyond its capacity the cache keeps the most recently used half; take hands out the only copy")
    func eviction() {
        var cache = ReplicaCache(capacity: 4)
        let ids = (0..<5).map { AgreementID(UUIDBytes(high: UInt64($0), low: 0)) }
        for id in ids.prefix(4) { cache.put(AgreementReplica(id: id)) }
        _ = cache.get(ids[0])
        cache.put(AgreementReplica(id: ids[4]))
        #expect(cache.count == 3, "half the capacity and one are kept")
        #expect(cache.get(ids[0]) != nil && cache.get(ids[4]) != nil, "the most recently used stay")
        #expect(cache.get(ids[1]) == nil && cache.get(ids[2]) == nil, "the least recently used go")
        #expect(cache.take(ids[0]) != nil && cache.get(ids[0]) == nil, "take removes")
        cache.evict([ids[4]])
        #expect(cache.get(ids[4]) == nil)
    }
}
