// Scenario benchmark of peer sync. Prints a table; writes the figures as JSON.
//
//   accord-bench [--agreements N] [--edits N] [--differences N] [--json PATH]
//   accord-bench --processes [--clients N] …   real accordd processes through the admin API
//   accord-bench --import N                     accordctl agreements import of a CSV of N agreements
//   accord-bench --scale [--organisations 30 …]  a consortium of many accordd processes (docs/scaling.md)
import ArgumentParser
import Foundation

@main
struct AccordBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accord-bench",
        abstract: "Peer sync benchmark: catch-up, authoring, edit latency, reconciliation, memory (BENCHMARKS.md).",
        discussion: """
            By default both nodes run in this process. With --processes, real accordd processes are driven \
            only through their admin API, and every figure is also given as a ratio to a limit measured \
            in the same run (P-256 verification on every core, durable SQLite commits, a loopback TLS round trip).
            """
    )

    @Option(help: "Agreements the first node holds (each one signed genesis change of ~1 KB); with --scale, across the consortium (default 100,000; 3,000 with --scale).")
    var agreements: Int?

    @Option(help: "Edits timed to the partner; with --scale, to every other party's node (default 1,000; 300 with --scale).")
    var edits: Int?

    @Option(help: "Agreements changed while the partner is away.")
    var differences = 100

    @Flag(help: "Run real accordd processes (built with -c release next to this executable).")
    var processes = false

    @Option(help: "Concurrent admin API clients that create the agreements (--processes).")
    var clients = 16

    @Option(help: ArgumentHelp("With --processes: record a perf profile of each phase and node into this folder.", valueName: "folder"))
    var perf: String?

    @Option(name: .customLong("import"), help: ArgumentHelp("Only this: import a CSV of N agreements into a real accordd (docs/import-export.md).", valueName: "n"))
    var importRecords: Int?

    @Flag(help: "Run the consortium scale scenario: many organisations' accordd processes, every node the peer of every other.")
    var scale = false

    @Option(help: "With --scale: organisations, each with its own accordd.")
    var organisations = 30

    @Option(help: "With --scale: how many of the organisations run a second node.")
    var twoNodeOrganisations = 3

    @Option(help: "With --scale: changes made while one node is stopped, then timed to its catch-up.")
    var catchUpChanges = 5_000

    @Option(help: "With --scale: how long idle cost is measured (reconciliation runs every 300 s: a window shorter than that says little about its bytes).")
    var idleSeconds = 600

    @Option(help: "With --scale: the seed of every random choice (default: random, printed).")
    var seed: UInt64?

    @Option(help: ArgumentHelp("Only this: the web console's list at N agreements and an agreement page with --history changes, on a real accordd.", valueName: "n"))
    var console: Int?

    @Option(help: "With --console: changes of the one long agreement.")
    var history = 1_000

    @Option(help: ArgumentHelp("Where to write the figures.", valueName: "path"))
    var json: String?

    func run() async throws {
        let report = BenchReport()
        if let importRecords {
            print("accord-bench (import): \(importRecords) agreements, \(ProcessInfo.processInfo.activeProcessorCount) cores")
            print(String(repeating: "-", count: 130))
            let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
            try await ImportBenchmark(records: importRecords, binaries: binaries, report: report).run()
            return try report.write(json ?? "benchmarks-import.json")
        }
        if let console {
            print("accord-bench (console): \(console) agreements, an agreement of \(history) changes, \(ProcessInfo.processInfo.activeProcessorCount) cores")
            print(String(repeating: "-", count: 130))
            let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
            try await ConsoleBenchmark(agreements: console, history: history, binaries: binaries, perfFolder: perf, report: report).run()
            return try report.write(json ?? "benchmarks-console.json")
        }
        if scale {
            let seed = self.seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
            let shape = ScaleBenchmark.Shape(
                organisations: organisations, twoNodeOrganisations: twoNodeOrganisations, agreements: agreements ?? 3_000,
                fanOutEdits: edits ?? 300, catchUpChanges: catchUpChanges, idleSeconds: idleSeconds, seed: seed
            )
            print("accord-bench (scale): \(organisations) organisations (\(twoNodeOrganisations) with two nodes), \(shape.agreements) agreements, seed \(seed), \(ProcessInfo.processInfo.activeProcessorCount) cores")
            print(String(repeating: "-", count: 130))
            let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
            try await ScaleBenchmark(shape: shape, binaries: binaries, report: report).run()
            return try report.write(json ?? "benchmarks-scale.json")
        }
        let (agreements, edits) = (self.agreements ?? 100_000, self.edits ?? 1_000)
        let mode = processes ? "accordd processes" : "in one process"
        print("accord-bench (\(mode)): \(agreements) agreements, \(edits) edits, \(differences) differences, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print(String(repeating: "-", count: 130))
        if processes {
            let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
            try await ProcessBenchmark(
                agreements: agreements, edits: edits, differences: differences, clients: clients, binaries: binaries, perfFolder: perf, report: report
            ).run()
        } else {
            try await runInProcess(agreements: agreements, edits: edits, differences: differences, report: report)
        }
        try report.write(json ?? (processes ? "benchmarks-processes.json" : "benchmarks-sync.json"))
    }
}
