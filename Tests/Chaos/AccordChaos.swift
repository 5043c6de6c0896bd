import AccordTestSupport
import ArgumentParser
import Foundation

/// The chaos soak (docs/reliability.md): five accordd processes of four organisations on loopback,
/// every link through a fault proxy that delays, stalls and cuts, random edits, approvals, notes
/// and party changes through accordctl, and SIGKILLs with restarts; then everything is healed and
/// every promise checked. Reproducible in its choices from its seed.
@main
struct AccordChaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accord-chaos",
        abstract: "Chaos soak of real accordd nodes: faults, kills, random operations; then heal and check every promise."
    )

    @Option(help: "The seed of every random choice (default: random, printed).")
    var seed: UInt64?

    @Option(help: "How long the chaos lasts before healing.")
    var seconds = 60

    @Option(help: "Concurrent streams of operations.")
    var workers = 3

    @Option(help: ArgumentHelp("Where accordd and accordctl are (default: next to this executable).", valueName: "folder"))
    var binaries: String?

    @Option(help: ArgumentHelp("Write the summary as JSON here.", valueName: "file"))
    var json: String?

    @Flag(help: "Keep the nodes' folders (data, logs) even when the soak passes.")
    var keep = false

    func run() async throws {
        let seed = self.seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let executableFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let root = "/tmp/accord-chaos-\(seed)"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        print("accord-chaos: seed \(seed), \(seconds) s of chaos, \(workers) workers; nodes under \(root)")
        print("replay: accord-chaos --seed \(seed) --seconds \(seconds) --workers \(workers)")

        let soak = Soak(options: Soak.Options(
            seed: seed, seconds: seconds, workers: workers, binaries: binaries ?? executableFolder, root: root, repository: repository
        ))
        let started = ContinuousClock.now
        do {
            try await soak.setUp()
            let enabled = soak.enabledFaults
            print("fault classes: \(enabled.map(\.rawValue).joined(separator: ", "))"
                + (enabled.contains(.diskFull) ? "" : " (no disk-full faults: a tmpfs of its own needs root)"))
            try await soak.run()
            print("healing after \(seconds) s of chaos…")
            try await soak.healAndCheck()
            try await soak.tearDown()
        } catch {
            try? await soak.tearDown()
            print("accord-chaos: FAILED to run: \(error)\nnode folders kept under \(root)")
            throw ExitCode.failure
        }
        let summary = soak.summary
        print(Self.table(summary, total: ContinuousClock.now - started))
        if let json {
            try AccordChaosJSON.write(summary, to: json)
        }
        guard summary.failures.isEmpty else {
            print("accord-chaos: FAILED (seed \(seed)):")
            for failure in summary.failures.prefix(40) { print("  - \(failure)") }
            print("node folders kept under \(root)")
            throw ExitCode.failure
        }
        print("accord-chaos: PASSED — every acknowledged change present at every party's node, every party's copy identical, no trace at non-parties, every node up and stopped cleanly")
        if !keep { try? FileManager.default.removeItem(atPath: root) }
    }

    static func table(_ summary: Soak.Summary, total: Duration) -> String {
        let operations = summary.operations.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let faults = FaultClass.allCases.map { "\($0.rawValue) \(summary.faults[$0.rawValue] ?? 0)" }.joined(separator: ", ")
        return """
            | measure | value |
            |---|---|
            | seed | \(summary.seed) |
            | chaos seconds / total seconds | \(summary.seconds) / \(total.components.seconds) |
            | nodes / organisations | \(summary.nodes) / \(summary.organisations) |
            | agreements created | \(summary.agreements) |
            | changes acknowledged | \(summary.acknowledgedChanges) (\(operations)) |
            | operations refused / node unreachable | \(summary.refusedOperations) / \(summary.unreachableOperations) |
            | faults | \(faults) |
            | unsynced bytes undone by power cuts | \(summary.bytesUndone) |
            | acknowledged changes lost with a deleted disk (never left it) | \(summary.lostWithDisk) |
            | seconds to converge after healing | \(String(format: "%.1f", summary.secondsToConverge)) |
            | failures | \(summary.failures.count) |
            """
    }
}

enum AccordChaosJSON {
    static func write(_ summary: Soak.Summary, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(summary).write(to: URL(fileURLWithPath: path))
    }
}
