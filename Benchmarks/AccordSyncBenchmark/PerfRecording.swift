import Dispatch
import Foundation

/// `perf record -g` attached to one process for one phase of the benchmark (`--perf DIR`), so
/// that each profile shows one job of one node: authoring on the author, sending and receiving
/// during catch-up. Read them with `perf report -i DIR/PHASE.data --no-children`.
struct PerfRecording {
    private let process: Process

    /// Starts recording `pid` into `folder/name.data`; nil when no folder was asked for.
    static func start(_ name: String, pid: pid_t, in folder: String?) throws -> PerfRecording? {
        guard let folder else { return nil }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perf")
        process.arguments = ["record", "-g", "-F", "999", "-p", "\(pid)", "-o", "\(folder)/\(name).data"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return PerfRecording(process: process)
    }

    /// Stops recording (SIGINT, as perf expects) and waits until the file is written.
    func stop() async {
        process.interrupt()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
    }
}
