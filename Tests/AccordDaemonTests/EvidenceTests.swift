import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// `accordctl agreements evidence` and its verify.sh, run with a POSIX shell and openssl only.
@Suite("Evidence bundle checked with openssl alone", .serialized)
struct EvidenceTests {
    /// Runs the bundle's verify.sh with a PATH that holds no Accord binary.
    private static func verify(_ folder: String) async throws -> CommandResult {
        try await Subprocess.run("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", "sh", "\(folder)/verify.sh"], timeout: .seconds(120))
    }

    private static func copy(_ folder: String, to name: String) throws -> String {
        let target = URL(fileURLWithPath: folder).deletingLastPathComponent().appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: folder, toPath: target)
        return target
    }

    private static func flipByte(_ path: String, at offset: Int) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[min(offset, bytes.count - 1)] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test("a fresh bundle verifies with sh and openssl alone and says who approved which terms when; one byte changed in a change, a certificate from another CA, or terms edited after approval fail, naming what is wrong")
    func evidence() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            let id = try await acme.createAgreement("Joint support desk", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "commitment", id, "add", "--by", "globex", "--kind", "customerAssistance",
                                       "--description", "Second-line support", "--due", "2027-06-30").succeeded)
            #expect(try await acme.ctl("agreements", "approve", id).succeeded)
            try await eventually("globex has acme's approval") {
                try await globex.json("agreements", "show", id, as: AgreementView.self).approvals.count == 1
            }
            #expect(try await globex.ctl("agreements", "approve", id).succeeded)
            #expect(try await globex.ctl("agreements", "set", id, "framework.serviceCoverage", "EU and UK").succeeded)
            #expect(try await globex.ctl("agreements", "approve", id).succeeded)
            try await eventually("acme has globex's three changes") {
                try await acme.json("agreements", "history", id, as: [HistoryItem].self).count == 6
            }

            let folder = "\(acme.folder)/evidence"
            let written = try await acme.ctl("agreements", "evidence", id, "--out", folder)
            #expect(written.succeeded, "\(written.stderr)")
            let accordOnPath = try await Subprocess.run("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", "sh", "-c", "command -v accordd accordctl"])
            #expect(!accordOnPath.succeeded, "no Accord binary on the script's PATH")
            let fresh = try await Self.verify(folder)
            print(fresh.stdout)
            #expect(fresh.succeeded, "\(fresh.stdout)\n\(fresh.stderr)")
            #expect(fresh.stdout.contains("VERIFIED"))
            let approvals = fresh.stdout.split(separator: "\n").filter { $0.contains(" approved the terms ") }
            #expect(approvals.count == 3, "three approvals: \(approvals)")
            #expect(approvals.first?.hasPrefix("ok: acme (acme/node1) approved the terms") == true)
            #expect(fresh.stdout.components(separatedBy: "is signed by").count - 1 == 6, "every change's signature checked")
            let hashes = Set(approvals.compactMap { $0.split(separator: " ").first { $0.count == 64 } })
            #expect(hashes.count == 2, "globex approved the terms before and after its change")

            // One byte changed in a change.
            let altered = try Self.copy(folder, to: "altered-change")
            try Self.flipByte("\(altered)/changes/2.msg", at: 40)
            let alteredResult = try await Self.verify(altered)
            #expect(!alteredResult.succeeded)
            #expect(alteredResult.stdout.contains("FAIL: changes/2.msg: no certificate of acme/node1 verifies its signature"), "\(alteredResult.stdout)")

            // A certificate of the same node from another CA.
            let impostor = try TestConsortium(["acme:node1"], caName: "Some Other CA")
            defer { impostor.remove() }
            let swapped = try Self.copy(folder, to: "other-ca")
            let index = try String(contentsOfFile: "\(swapped)/certificates/index", encoding: .utf8)
            let acmeCertificate = try #require(index.split(separator: "\n").first { $0.hasSuffix("\tacme/node1") }?.split(separator: "\t").first)
            try FileManager.default.removeItem(atPath: "\(swapped)/certificates/\(acmeCertificate)")
            try FileManager.default.copyItem(atPath: "\(impostor.folder)/acme-node1.pem", toPath: "\(swapped)/certificates/\(acmeCertificate)")
            let swappedResult = try await Self.verify(swapped)
            #expect(!swappedResult.succeeded)
            #expect(swappedResult.stdout.contains("FAIL: certificates/\(acmeCertificate) (acme/node1) was not issued by the consortium CA"), "\(swappedResult.stdout)")
            #expect(swappedResult.stdout.contains("no certificate of acme/node1 verifies"), "acme's changes no longer verify")

            // Terms edited after approval.
            let edited = try Self.copy(folder, to: "edited-terms")
            try Self.flipByte("\(edited)/approvals/1.terms", at: 30)
            let editedResult = try await Self.verify(edited)
            #expect(!editedResult.succeeded)
            #expect(editedResult.stdout.contains("FAIL: approvals/1.terms hashes to"), "\(editedResult.stdout)")
            #expect(editedResult.stdout.contains("(the terms were altered)"))
        }
    }
}
