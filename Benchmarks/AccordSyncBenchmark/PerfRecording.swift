import AccordTestSupport
import Foundation

/// `perf record -g` attached to one process for one phase of the benchmark (`--perf DIR`), so
/// that each profile shows one job of one node: authoring on the author, sending and receiving
/// during catch-up. Read them with `perf report -i DIR/PHASE.data --no-children`.
struct PerfRecording {
    private let process: Subprocess

    /// Starts recording `pid` into `folder/name.data`; nil when no folder was asked for.
    ///
    /// Spawned with default signal dispositions and an empty mask (`Subprocess`): perf stops on
    /// SIGINT, which a child of this process would otherwise inherit blocked or ignored.
    static func start(_ name: String, pid: pid_t, in folder: String?) throws -> PerfRecording? {
        guard let folder else { return nil }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let process = try Subprocess.spawn(
            "/usr/bin/perf", ["record", "-g", "-F", "499", "-p", "\(pid)", "-o", "\(folder)/\(name).data"],
            stdout: "\(folder)/\(name).log", stderr: "\(folder)/\(name).log"
        )
        return PerfRecording(process: process)
    }

    /// Stops recording (SIGINT, as perf expects) and waits until the file is written.
    func stop() async throws {
        process.signal(SIGINT)
        _ = try await process.wait(timeout: .seconds(120))
    }
}
