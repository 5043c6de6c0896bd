import AccordAdminAPI
import AccordCrypto
import AccordTestSupport
import Foundation
import Testing

/// A consortium PKI of the test's own, minted with the operators' script, that the test changes
/// as operators do: re-issue a node's certificate, revoke one, write a new CRL.
struct TestConsortium {
    let folder: String

    /// A CA and a certificate for each `ORG:NODE[,NODE]` spec, valid for `days`.
    init(_ specs: [String], days: Int = 365, caName: String = "Accord Consortium CA") async throws {
        folder = TestCertificates.temporaryFolder("accord-ops-pki")
        try await TestCertificates.make(["-o", folder, "-d", "\(days)", "--ca-name", caName, "--crl"] + specs)
    }

    var ca: String { "\(folder)/ca.pem" }
    var crl: String { "\(folder)/crl.pem" }

    /// A new key and certificate for `spec` (`ORG:NODE`), in place of the old files.
    func reissue(_ spec: String, days: Int = 365) async throws {
        try await TestCertificates.make(["-o", folder, "-d", "\(days)", spec])
    }

    func reissue(_ spec: String, until end: Date) async throws {
        try await TestCertificates.make(["-o", folder, "--end", TestCertificates.validityDate(end), spec])
    }

    /// Revokes `ORG-NODE` and rewrites crl.pem.
    func revoke(_ name: String) async throws {
        try await TestCertificates.make(["-o", folder, "--revoke", name])
    }

    /// SHA-256 of `ORG-NODE`.pem's DER, as the admin API shows fingerprints.
    func fingerprint(_ name: String) throws -> String {
        try Certificate(pemRepresentation: String(contentsOfFile: "\(folder)/\(name).pem", encoding: .utf8)).fingerprint.hex
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

/// Nodes of a `TestConsortium`, each configured with its folder, CA and CRL.
func consortiumNodes(_ organisations: [String], pki: TestConsortium) throws -> [DaemonNode] {
    let nodes = try daemonMesh(organisations)
    for node in nodes {
        node.certificates = pki.folder
        node.crl = pki.crl
    }
    return nodes
}

extension AccordProcess {
    /// The row of `peer` (`organisation/name`) in this node's `peers`, nil if it has none.
    func peer(_ node: String) async throws -> PeerStatus? {
        try await json("peers", as: [PeerStatus].self).first { $0.node == node }
    }

    /// Waits until this node has an established session with `node`, and returns its row.
    ///
    /// - Parameter lasting: when both nodes dial each other at once, both connections may get
    ///   past their TLS handshakes, and the one the simultaneous-dial rule does not keep ends
    ///   within milliseconds; a dial made once a session runs ends before its hello and replaces
    ///   nothing (docs/protocol.md, "Connections"). With `lasting`, waits for a session seen twice,
    ///   a second apart (same start, same direction), so that a test can compare its
    ///   `connectedSince` later.
    @discardableResult
    func waitForSession(with node: String, lasting: Bool = false, timeout: Duration = .seconds(60)) async throws -> PeerStatus {
        var seen: String?
        try await eventually("\(label) in session with \(node)", timeout: timeout, every: lasting ? .seconds(1) : .milliseconds(25)) {
            guard let row = try await peer(node), row.connected else {
                seen = nil
                return false
            }
            guard lasting else { return true }
            let session = "\(row.connectedSince ?? "") \(row.direction ?? "")"
            defer { seen = session }
            return seen == session
        }
        return try #require(try await peer(node))
    }

    /// Creates an agreement among `parties` and returns its id. The parties need not be known to
    /// the node (`--allow-unknown-party`): tests of one node name partners that never run.
    func createAgreement(_ title: String, parties: [String]) async throws -> String {
        let created: CreatedAgreement = try await json(
            ["agreements", "create", "--title", title, "--category", "technicalResources", "--allow-unknown-party"] + parties.flatMap { ["--party", $0] }
        )
        return created.id
    }

    /// The ids of the agreements this node holds.
    func agreementIDs() async throws -> Set<String> {
        Set(try await json("agreements", "list", as: [AgreementListItem].self).map(\.id))
    }
}
