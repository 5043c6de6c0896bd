import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// Clocks that jump and strobe (issue 17, "clock jumps"), injected through
/// `accordd --clock-offset-file`: libfaketime would make accordd lose its arguments.
@Suite("Clock jumps", .serialized)
struct ClockJumpTests {
    private static let hour: Int64 = 3_600_000

    private static func history(_ node: DaemonNode, _ id: String) async throws -> [HistoryItem] {
        try await node.json("agreements", "history", id)
    }

    @Test("acme's clock jumps 2 h ahead, back 3 h and strobes while it authors: its stamps stay monotonic, nothing is rejected or lost; globex holds the changes stamped far ahead of its clock and releases them once its own clock reaches them")
    func jumps() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        let acmeOffset = "\(acme.folder)/clock-offset"
        let globexOffset = "\(globex.folder)/clock-offset"
        acme.options = ["--clock-offset-file", acmeOffset]
        globex.options = ["--clock-offset-file", globexOffset]
        func set(_ file: String, _ millis: Int64) throws { try "\(millis)\n".write(toFile: file, atomically: true, encoding: .utf8) }
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            _ = try await acme.waitForSession(with: "globex/node1")
            let id = try await acme.createAgreement("Jumping clocks", parties: ["acme", "globex"])
            try await eventually("globex has it") { try await globex.agreementIDs().contains(id) }

            // Two hours ahead: far beyond the 5 minutes of skew a node accepts.
            // acme reads the file again at its next clock reading after each rewrite.
            try set(acmeOffset, 2 * Self.hour)
            for index in 0..<3 { #expect(try await acme.ctl("agreements", "note", id, "ahead \(index)").succeeded) }
            // Back three hours (one behind the truth), then strobing by ±10 minutes.
            try set(acmeOffset, -Self.hour)
            for index in 0..<2 { #expect(try await acme.ctl("agreements", "note", id, "behind \(index)").succeeded) }
            for index in 0..<6 {
                try set(acmeOffset, (index.isMultiple(of: 2) ? 1 : -1) * Self.hour / 6)
                #expect(try await acme.ctl("agreements", "note", id, "strobe \(index)").succeeded)
            }
            let stamps = try await Self.history(acme, id).map(\.at)
            #expect(stamps.count == 12)
            // Millisecond times: two stamps of one millisecond differ in their counter only.
            #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0 <= $1 }, "acme's stamps never go back: \(stamps)")

            // globex holds what is stamped two hours ahead of its clock (and what builds on it).
            try await eventually("globex holds acme's changes from the future") {
                try await globex.json("agreements", "show", id, as: AgreementView.self).held.count == 11
            }
            #expect(try await Self.history(globex, id).count == 1)
            // globex's clock reaches them: it releases them (it re-judges held changes every 5 s).
            try set(globexOffset, 2 * Self.hour + 60_000)
            try await eventually("globex releases and accepts them", timeout: .seconds(30)) {
                try await Self.history(globex, id).count == 12
            }
            for node in nodes {
                let status: NodeStatus = try await node.json("status")
                #expect(status.rejected == 0 && status.held == 0, "\(node.label): nothing rejected, nothing left held")
            }
            #expect(Set(try await Self.history(acme, id).map(\.change)) == Set(try await Self.history(globex, id).map(\.change)))
        }
    }
}
