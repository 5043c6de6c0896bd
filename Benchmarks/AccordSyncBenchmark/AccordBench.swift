// Scenario benchmark of peer sync. Prints a table; writes the figures as JSON.
//
//   accord-bench [--agreements N] [--edits N] [--differences N] [--json PATH]
//   accord-bench --processes [--clients N] …   real accordd processes through the admin API
//   accord-bench --import N                     accordctl agreements import of a CSV of N agreements
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

    @Option(help: "Agreements the first node holds (each one signed genesis change of ~1 KB).")
    var agreements = 100_000

    @Option(help: "Edits timed to the partner.")
    var edits = 1_000

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
