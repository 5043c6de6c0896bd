import AccordCrypto
import AccordModel
import AccordStore
import AccordTestSupport
import Foundation

/// A temporary data directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "store") throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("accord-\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

enum StoreFixtures {
    static let acmeNode = NodeID(organisation: "acme", name: "a1")!
    static let acmeSigner = ChangeSigner(node: acmeNode, key: TestKeys.pool[0])
    static let globexSigner = ChangeSigner(node: NodeID(organisation: "globex", name: "g1")!, key: TestKeys.pool[2])
    static let initechSigner = ChangeSigner(node: NodeID(organisation: "initech", name: "i1")!, key: TestKeys.pool[3])
    static let start = ThreeCompanies.start

    static func configuration(_ directory: String, node: NodeID = acmeNode, cached: Int = 4096) -> StoreConfiguration {
        StoreConfiguration(
            directory: directory, node: node, replica: ReplicaConfiguration(maximumClockSkewMillis: 60_000),
            cachedAgreements: cached
        )
    }

    static func open(_ directory: String, node: NodeID = acmeNode, cached: Int = 4096) throws(StoreError) -> NodeStore {
        try NodeStore(configuration: configuration(directory, node: node, cached: cached))
    }

    static func genesis(_ title: String, parties: [OrganisationID] = ["acme", "globex"]) -> [Edit] {
        [.set(.title, .text(title)), .set(.category, .category(.technicalResources))] + parties.map { .addParty($0) }
    }

    /// Runs an SQL statement on a database file with the sqlite3 C API through a raw store-free
    /// connection (used to tamper with files the way a foreign tool would).
    static func bytes(of path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }
}
