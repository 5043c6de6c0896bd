import AccordCrypto
import AccordModel
@testable import AccordStore
import AccordTestSupport
import Foundation
import Testing

/// The page size of a node's database, and the report of where its bytes go.
@Suite("Store space")
struct StoreSpaceTests {
    let t = StoreFixtures.start

    @Test("a new database has 8 KiB pages, and the space report names the log as its largest table")
    func newDatabase() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        for index in 0..<20 {
            _ = try await store.author(
                nil, StoreFixtures.genesis("Agreement \(index)") + [.note(String(repeating: "terms ", count: 150))],
                signer: StoreFixtures.acmeSigner, nowMillis: t + UInt64(index)
            )
        }
        await store.close()

        let space = try StoreSpace(databaseAt: directory.file("accord.sqlite"))
        #expect(space.pageSize == NodeStore.newDatabasePageSize)
        #expect(space.objects.first?.name == "changes")
        #expect(space.objects.map(\.bytes) == space.objects.map(\.bytes).sorted(by: >))
        let total = space.objects.reduce(0) { $0 + $1.bytes }
        let fileSize = try FileManager.default.attributesOfItem(atPath: directory.file("accord.sqlite"))[.size] as? Int
        #expect(total == fileSize, "every page of the checkpointed file belongs to an object")
    }

    @Test("a database created with 4 KiB pages keeps them, and opens and writes as before")
    func olderPageSize() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            // An empty file with SQLite's former default page size, as an earlier release left it.
            let earlier = try SQLiteConnection(path: directory.file("accord.sqlite"), create: true)
            try earlier.execute("PRAGMA page_size = 4096; VACUUM")
        }
        let store = try StoreFixtures.open(directory.path)
        let genesis = try await store.author(nil, StoreFixtures.genesis("GPU pool"), signer: StoreFixtures.acmeSigner, nowMillis: t)
        await store.close()

        let reopened = try StoreFixtures.open(directory.path)
        #expect(try await reopened.agreement(genesis.agreement)?.agreement.title == "GPU pool")
        await reopened.close()
        #expect(try StoreSpace(databaseAt: directory.file("accord.sqlite")).pageSize == 4096)
    }
}
