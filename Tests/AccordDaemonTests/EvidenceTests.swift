import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// `accordctl agreements evidence` and its verify.sh, run with a POSIX shell and openssl only.
@Suite("Evidence bundle checked with openssl alone", .serialized)
struct EvidenceTests {
    /// Runs the bundle's verify.sh with a PATH that holds no Accord binary.
    static func verify(_ folder: String) async throws -> CommandResult {
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

    /// Replaces `old` with `new` in the file at `path` (it must be there).
    private static func edit(_ path: String, replacing old: String, with new: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard text.contains(old) else { throw TestFailure("\(path) does not contain \(old)") }
        try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Text a reader might be fooled by: quotes, a backslash, a line break, a tab, a control
    /// character and letters beyond ASCII, all of which the readable files must render alike.
    static let trickyDescription = "EUR 40,000 \"R&D\" subsidy\\\nfor Zoë's team\tpaid \u{1}quarterly"

    @Test("a fresh bundle verifies with sh and openssl alone and says who approved which terms when; one byte changed in a change, a certificate from another CA, or terms edited after approval fail, naming what is wrong")
    func evidence() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            let id = try await acme.createAgreement("Joint support desk", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "commitment", id, "add", "--by", "globex", "--kind", "rdSubsidy",
                                       "--description", Self.trickyDescription, "--due", "2027-06-30").succeeded)
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
            #expect(try await acme.ctl("agreements", "approve", id).succeeded, "acme approves the terms globex changed")

            let folder = "\(acme.folder)/evidence"
            let written = try await acme.ctl("agreements", "evidence", id, "--out", folder)
            #expect(written.succeeded, "\(written.stderr)")
            let accordOnPath = try await Subprocess.run("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", "sh", "-c", "command -v accordd accordctl"])
            #expect(!accordOnPath.succeeded, "no Accord binary on the script's PATH")
            let fresh = try await Self.verify(folder)
            print(fresh.stdout)
            #expect(fresh.succeeded, "\(fresh.stdout)\n\(fresh.stderr)")
            #expect(fresh.stdout.hasSuffix("every check holds, and every party approved the current terms \(try await acme.json("agreements", "show", id, as: AgreementView.self).termsHash).\n"))
            #expect(fresh.stdout.contains("ok: history.txt says what the signed changes say"))
            let approvals = fresh.stdout.split(separator: "\n").filter { $0.hasPrefix("ok: ") && $0.contains(" approved the terms ") }
            #expect(approvals.count == 4, "four approvals: \(approvals)")
            #expect(approvals.first?.hasPrefix("ok: acme (acme/node1) approved the terms") == true)
            #expect(fresh.stdout.components(separatedBy: "is signed by").count - 1 == 7, "every change's signature checked")
            let hashes = Set(approvals.compactMap { $0.split(separator: " ").first { $0.count == 64 } })
            #expect(hashes.count == 2, "both parties approved the terms before and after globex's change")
            #expect(fresh.stdout.contains("approval by globex: approvals/3, signed by globex/node1"), "globex's second approval covers the current terms")
            #expect(fresh.stdout.contains("termination: none among the changes in this bundle"))
            // Who made each change through the admin socket: the local user, as each node signed it.
            let people = try String(contentsOfFile: "\(folder)/people.txt", encoding: .utf8)
            #expect(people.split(separator: "\n").count == 7 && people.contains("change 7 made by local user \"\(NSUserName())\""), "\(people)")
            #expect(fresh.stdout.contains("ok: people.txt says what the signed statements say"))
            let readableTerms = try String(contentsOfFile: "\(folder)/approvals/1.terms.txt", encoding: .utf8)
            #expect(readableTerms.contains(#"EUR 40,000 \"R&D\" subsidy\\\nfor Zoë's team\tpaid \x01quarterly"#), "\(readableTerms)")

            // One byte changed in a change.
            let altered = try Self.copy(folder, to: "altered-change")
            try Self.flipByte("\(altered)/changes/2.msg", at: 40)
            let alteredResult = try await Self.verify(altered)
            #expect(alteredResult.termination == .exited(1))
            #expect(alteredResult.stdout.contains("FAIL: changes/2.msg: no certificate of acme/node1 verifies its signature"), "\(alteredResult.stdout)")

            // A certificate of the same node from another CA.
            let impostor = try await TestConsortium(["acme:node1"], caName: "Some Other CA")
            defer { impostor.remove() }
            let swapped = try Self.copy(folder, to: "other-ca")
            let index = try String(contentsOfFile: "\(swapped)/certificates/index", encoding: .utf8)
            let acmeCertificate = try #require(index.split(separator: "\n").first { $0.hasSuffix("\tacme/node1") }?.split(separator: "\t").first)
            try FileManager.default.removeItem(atPath: "\(swapped)/certificates/\(acmeCertificate)")
            try FileManager.default.copyItem(atPath: "\(impostor.folder)/acme-node1.pem", toPath: "\(swapped)/certificates/\(acmeCertificate)")
            let swappedResult = try await Self.verify(swapped)
            #expect(swappedResult.termination == .exited(1))
            #expect(swappedResult.stdout.contains("FAIL: certificates/\(acmeCertificate) (acme/node1) was not issued by the consortium CA"), "\(swappedResult.stdout)")
            #expect(swappedResult.stdout.contains("no certificate of acme/node1 verifies"), "acme's changes no longer verify")

            // Terms edited after approval.
            let edited = try Self.copy(folder, to: "edited-terms")
            try Self.flipByte("\(edited)/approvals/1.terms", at: 30)
            let editedResult = try await Self.verify(edited)
            #expect(editedResult.termination == .exited(1))
            #expect(editedResult.stdout.contains("FAIL: approvals/1.terms hashes to"), "\(editedResult.stdout)")
            #expect(editedResult.stdout.contains("(the terms were altered)"))

            // The readable files a lawyer reads: each edit is caught, naming the file.
            for (file, old, new) in [
                ("approvals/1.terms.txt", "EUR 40,000", "EUR 90,000"),
                ("current/terms.txt", "EUR 40,000", "EUR 90,000"),
                ("history.txt", "EUR 40,000", "EUR 90,000"),
                ("status.txt", "approval by globex: approvals/3", "approval by globex: approvals/2"),
                ("people.txt", "made by local user", "made by person"),
            ] {
                let forged = try Self.copy(folder, to: "forged-\(file.replacingOccurrences(of: "/", with: "-"))")
                try Self.edit("\(forged)/\(file)", replacing: old, with: new)
                let result = try await Self.verify(forged)
                #expect(result.termination == .exited(1), "\(file): \(result.stdout)")
                #expect(result.stdout.contains("FAIL: \(file == "status.txt" ? "status.txt" : file)"), "\(file): \(result.stdout)")
                #expect(!result.stdout.contains("ok: \(file)"), "a forged file is never listed as ok")
                #expect(result.stdout.hasSuffix("check(s) failed.\n"))
            }

            // An approval backdated in the index.
            let backdated = try Self.copy(folder, to: "backdated")
            let approvalIndex = try String(contentsOfFile: "\(backdated)/approvals/index", encoding: .utf8)
            let stamped = try #require(approvalIndex.split(separator: "\n").first?.split(separator: "\t")[3])
            try Self.edit("\(backdated)/approvals/index", replacing: String(stamped), with: "2020-01-01T00:00:00.000Z")
            let backdatedResult = try await Self.verify(backdated)
            #expect(backdatedResult.termination == .exited(1))
            #expect(backdatedResult.stdout.contains("FAIL: approvals/1: change 3 carries no approval by acme (acme/node1) of"), "\(backdatedResult.stdout)")
        }
    }

    @Test("a bundle in which one of two parties approved ends NOT APPROVED BY EVERY PARTY (exit 3), naming the party; a terminated agreement's bundle states the termination proved from its signed change")
    func incompleteAndTerminated() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let acme = nodes[0]
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            let id = try await acme.createAgreement("Half approved", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "approve", id).succeeded)
            let folder = "\(acme.folder)/half"
            #expect(try await acme.ctl("agreements", "evidence", id, "--out", folder).succeeded)
            let half = try await Self.verify(folder)
            #expect(half.termination == .exited(3), "\(half.stdout)")
            #expect(half.stdout.contains("approval by globex: none of these terms"))
            #expect(half.stdout.contains("VERIFIED, BUT NOT APPROVED BY EVERY PARTY: every check holds; the current terms"))
            #expect(half.stdout.hasSuffix("are not approved by globex.\n"), "\(half.stdout)")

            #expect(try await acme.ctl("agreements", "terminate", id, "--reason", "Partner left the \"market\"").succeeded)
            let ended = "\(acme.folder)/terminated"
            #expect(try await acme.ctl("agreements", "evidence", id, "--out", ended).succeeded)
            let terminated = try await Self.verify(ended)
            #expect(terminated.termination == .exited(3), "\(terminated.stdout)")
            #expect(terminated.stdout.contains(#"termination: by acme/node1, stamped "#), "\(terminated.stdout)")
            #expect(terminated.stdout.contains(#"in change 3, reason "Partner left the \"market\"""#), "\(terminated.stdout)")
            #expect(terminated.stdout.contains("The agreement was terminated by acme/node1"), "\(terminated.stdout)")
            let status = try String(contentsOfFile: "\(ended)/status.txt", encoding: .utf8)
            #expect(status.contains("that the agreement's status there was terminated"), "\(status)")
        }
    }
}
