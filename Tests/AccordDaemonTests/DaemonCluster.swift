import AccordAdminAPI
import AccordTestSupport
import Foundation

/// Where the package's built executables are: next to the test bundle.
enum Binaries {
    static let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    static let accordd = folder.appendingPathComponent("accordd").path
    static let accordctl = folder.appendingPathComponent("accordctl").path
    static let hostilePeer = folder.appendingPathComponent("accord-hostile-peer").path
    static let certificates = TestCertificates.examples
}

/// The end-to-end tests' nodes are `AccordProcess`es with the binaries of this build.
typealias DaemonNode = AccordProcess

extension AccordProcess {
    convenience init(_ organisation: String, name: String = "node1", port: Int) throws {
        try self.init(organisation, name: name, port: port, binaries: Binaries.folder.path)
    }
}

/// A full mesh of nodes on free loopback ports.
func daemonMesh(_ organisations: [String]) throws -> [DaemonNode] {
    let ports = try freePorts(organisations.count)
    let nodes = try zip(organisations, ports).map { try DaemonNode($0, port: $1) }
    for node in nodes { node.peers = nodes.filter { $0 !== node }.map(\.address) }
    return nodes
}

/// Runs `body` in this test's turn of running accordd processes (`TurnTaking.daemonProcesses`),
/// then stops every node (SIGKILL for any left running) and removes their folders, also when the
/// body throws.
func withNodes<Result>(
    isolation: isolated (any Actor)? = #isolation, _ nodes: [DaemonNode], _ body: () async throws -> Result
) async throws -> Result {
    try await TurnTaking.daemonProcesses.withTurn {
        do {
            let result = try await body()
            for node in nodes { node.remove() }
            return result
        } catch {
            for node in nodes {
                print("--- \(node.label) log ---\n\(node.logTail)")
                node.remove()
            }
            throw error
        }
    }
}
