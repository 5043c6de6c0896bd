import AccordCrypto
import AccordModel
import AccordStore
import AccordTestSupport
import Foundation
import Testing

/// Nothing acknowledged is ever lost: a real process writing to a store is killed with SIGKILL
/// at random moments, and after every kill the store must hold every change it acknowledged,
/// pass `PRAGMA integrity_check`, and materialise exactly what a replay of its log gives.
@Suite("Crash safety")
struct CrashSafetyTests {
    static let rounds = 24
    /// Kills per data directory: each directory is reopened after every kill, and a new one is
    /// started now and then so that the full check after each kill stays quick.
    static let roundsPerDirectory = 6

    /// The helper executable, built beside the test bundle.
    static var helper: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("accord-store-crash-helper")
    }

    @Test("every acknowledged change survives SIGKILL at random moments")
    func killAtRandom() async throws {
        var directory = try TemporaryDirectory("crash")
        defer { directory.remove() }
        var random = SystemRandomNumberGenerator()
        var acknowledged: [ChangeID] = []
        var totalAcknowledged = 0
        var roundsWithAcknowledgements = 0

        for round in 0..<Self.rounds {
            if round > 0, round % Self.roundsPerDirectory == 0 {
                directory.remove()
                directory = try TemporaryDirectory("crash")
                acknowledged = []
            }
            let output = "\(directory.path).round-\(round).out"
            defer { try? FileManager.default.removeItem(atPath: output) }
            let helper = try Subprocess.spawn(Self.helper.path, [directory.path, "\(round)"], stdout: output, stderr: "/dev/null")
            func printed() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
            try await eventually("round \(round): the helper opened the store") { printed().hasPrefix("opened\n") }
            if round == 0 {
                // The running helper holds the data directory: a second opener is refused.
                #expect(throws: StoreError.self) { try StoreFixtures.open(directory.path, node: NodeID(organisation: "acme", name: "crash")!) }
            }
            // The kill comes at a random moment of the writing: that is the test, not a wait.
            try await Task.sleep(for: .milliseconds(Int.random(in: 50...600, using: &random)))
            helper.signal(SIGKILL)
            let termination = try await helper.wait()
            #expect(termination == .signalled(SIGKILL), "round \(round): the helper exited by itself (\(String(describing: termination)))")

            let text = printed()
            // Only complete lines count: a line cut by the kill is not a promise we saw.
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            let ids = lines.compactMap { line -> ChangeID? in
                guard line.hasPrefix("ack ") else { return nil }
                return HexEncoding.decode(line.dropFirst(4)).flatMap { ChangeID(bytes: $0) }
            }
            if !ids.isEmpty { roundsWithAcknowledgements += 1 }
            acknowledged += ids
            totalAcknowledged += ids.count

            let store = try StoreFixtures.open(directory.path, node: NodeID(organisation: "acme", name: "crash")!)
            let missing = acknowledged.count - (try await store.verdicts(of: acknowledged).count)
            #expect(missing == 0, "round \(round): \(missing) acknowledged change(s) lost")
            let report = try await store.checkConsistency()
            #expect(report.integrity == ["ok"], "round \(round): \(report.integrity)")
            #expect(report.mismatches.isEmpty, "round \(round): \(report.mismatches.prefix(3))")
            await store.close()
        }
        #expect(roundsWithAcknowledgements >= Self.rounds / 4, "the helper rarely got to write before being killed")
        print("crash safety: \(Self.rounds) kills, \(totalAcknowledged) acknowledged changes, all present")
    }
}
