import AccordCrypto
import AccordModel
@testable import AccordStore
import AccordTestSupport
import Foundation
import Testing

/// Bad files and failing disks: each gives a clear error naming the file, and nothing that was
/// there is lost or overwritten.
@Suite("Store faults")
struct StoreFaultTests {
    let t = StoreFixtures.start

    func expectOpenFails(_ directory: String, _ code: StoreError.Code, node: NodeID = StoreFixtures.acmeNode) -> StoreError? {
        do throws(StoreError) {
            let store = try StoreFixtures.open(directory, node: node)
            Issue.record("opening \(directory) should have failed with \(code)")
            _ = store
            return nil
        } catch {
            #expect(error.code == code, "\(error)")
            return error
        }
    }

    @Test("a file that is not SQLite is refused and left byte for byte as it was")
    func notSQLite() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        try garbage.write(to: URL(fileURLWithPath: directory.file("accord.sqlite")))
        let error = expectOpenFails(directory.path, .notADatabase)
        #expect(error?.path == directory.file("accord.sqlite"))
        #expect(try StoreFixtures.bytes(of: directory.file("accord.sqlite")) == garbage)
        #expect(!FileManager.default.fileExists(atPath: directory.file("accord.sqlite-wal")))
    }

    @Test("another application's SQLite database is refused and left untouched")
    func foreignDatabase() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        do {
            let foreign = try SQLiteConnection(path: directory.file("accord.sqlite"), create: true)
            try foreign.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER); INSERT INTO invoices VALUES (1, 100)")
        }
        let before = try StoreFixtures.bytes(of: directory.file("accord.sqlite"))
        let error = expectOpenFails(directory.path, .notADatabase)
        #expect(error?.message.contains("another application") == true)
        #expect(try StoreFixtures.bytes(of: directory.file("accord.sqlite")) == before)
    }

    @Test("a database from a newer schema is refused and not modified")
    func newerSchema() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        _ = try await store.author(nil, StoreFixtures.genesis("kept"), signer: StoreFixtures.acmeSigner, nowMillis: t)
        await store.close()
        do {
            let raw = try SQLiteConnection(path: directory.file("accord.sqlite"), create: false)
            try raw.execute("PRAGMA user_version = 99")
        }
        let before = try StoreFixtures.bytes(of: directory.file("accord.sqlite"))
        let error = expectOpenFails(directory.path, .newerSchema)
        #expect(error?.message.contains("99") == true)
        #expect(try StoreFixtures.bytes(of: directory.file("accord.sqlite")) == before)
    }

    @Test("a damaged database is reported as corrupt, naming the file")
    func corrupt() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try StoreFixtures.open(directory.path)
        for index in 0..<200 {
            _ = try await store.author(nil, StoreFixtures.genesis("agreement \(index)"), signer: StoreFixtures.acmeSigner, nowMillis: t)
        }
        await store.close()
        let path = directory.file("accord.sqlite")
        var bytes = try StoreFixtures.bytes(of: path)
        #expect(bytes.count > 8 * 4096)
        // Scribble over the middle of the file: b-tree pages, not the header.
        for offset in stride(from: 4 * 4096, to: 8 * 4096, by: 1) { bytes[offset] = 0xA5 }
        try bytes.write(to: URL(fileURLWithPath: path))
        let error = expectOpenFails(directory.path, .corrupt)
        #expect(error?.path == path)
        #expect(try StoreFixtures.bytes(of: path) == bytes)
    }

    @Test("a second store on the same data directory is refused while the first is open")
    func lock() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try StoreFixtures.open(directory.path)
        let error = expectOpenFails(directory.path, .locked)
        #expect(error?.message.contains("pid \(getpid())") == true)
        await first.close()
        let second = try StoreFixtures.open(directory.path)
        await second.close()
    }

    @Test("a data directory belongs to one node")
    func ownerMismatch() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await StoreFixtures.open(directory.path).close()
        let error = expectOpenFails(directory.path, .inconsistent, node: StoreFixtures.globexSigner.node)
        #expect(error?.message.contains("acme/a1") == true)
    }

    @Test("a data directory that cannot be created is reported")
    func uncreatableDirectory() {
        _ = expectOpenFails("/proc/accord-cannot-exist/data", .unavailable)
    }

    @Test("a full disk fails the write with a clear error; nothing half-written remains", .enabled(if: TmpfsMount.isAvailable))
    func diskFull() async throws {
        let mount = try TmpfsMount(size: "384k")
        defer { mount.unmount() }
        let store = try StoreFixtures.open(mount.path + "/data")
        var acknowledged = 0
        var failure: StoreError?
        let longTitle = String(repeating: "terms ", count: 150)
        for index in 0..<2_000 {
            do {
                _ = try await store.author(nil, StoreFixtures.genesis("\(index) \(longTitle)"), signer: StoreFixtures.acmeSigner, nowMillis: t)
                acknowledged += 1
            } catch let error as StoreError {
                failure = error
                break
            }
        }
        let error = try #require(failure, "the disk never filled up")
        #expect(error.code == .full, "\(error)")
        #expect(error.path.hasPrefix(mount.path))
        #expect(acknowledged > 0)
        // Reads still work and show exactly what was acknowledged.
        #expect(try await store.counts().changes == acknowledged)
        await store.close()

        try mount.resize("8m")
        let reopened = try StoreFixtures.open(mount.path + "/data")
        #expect(try await reopened.counts().changes == acknowledged)
        #expect(try await reopened.checkConsistency().isConsistent)
        _ = try await reopened.author(nil, StoreFixtures.genesis("after"), signer: StoreFixtures.acmeSigner, nowMillis: t)
        await reopened.close()
    }

    @Test("a read-only file system is reported, and the data survives it", .enabled(if: TmpfsMount.isAvailable))
    func readOnly() async throws {
        let mount = try TmpfsMount(size: "4m")
        defer { mount.unmount() }
        let store = try StoreFixtures.open(mount.path + "/data")
        _ = try await store.author(nil, StoreFixtures.genesis("survivor"), signer: StoreFixtures.acmeSigner, nowMillis: t)
        await store.close()
        let before = try StoreFixtures.bytes(of: mount.path + "/data/accord.sqlite")

        try mount.remount(readOnly: true)
        do throws(StoreError) {
            _ = try StoreFixtures.open(mount.path + "/data")
            Issue.record("a store opened for writing on a read-only file system")
        } catch {
            #expect([StoreError.Code.unavailable, .readOnly].contains(error.code), "\(error)")
            #expect(error.path.hasPrefix(mount.path + "/data"))
        }
        _ = expectOpenFails(mount.path + "/new", .unavailable)

        try mount.remount(readOnly: false)
        #expect(try StoreFixtures.bytes(of: mount.path + "/data/accord.sqlite") == before)
        let reopened = try StoreFixtures.open(mount.path + "/data")
        #expect(try await reopened.agreements(today: CalendarDate(unixMillis: t)).map(\.title) == ["survivor"])
        await reopened.close()
    }
}
