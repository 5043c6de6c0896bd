import Foundation
import NIOConcurrencyHelpers

/// One measured figure: in absolute terms and, where there is one, as a ratio to a limit
/// measured in the same run (this shared machine drifts by ±30 % from day to day; the ratio does not).
struct Figure: Encodable {
    let scenario: String
    let value: Double
    let unit: String
    /// The figure divided by the same run's limit (nil when the figure has none).
    let ratio: Double?
    /// What the ratio is to, e.g. "× verification floor".
    let ratioTo: String?
    let aim: String
}

/// The table this benchmark prints and the JSON it writes.
final class BenchReport: Sendable {
    private let figures = NIOLockedValueBox<[Figure]>([])

    func record(_ scenario: String, _ value: Double, _ unit: String, ratio: (Double, String)? = nil, aim: String = "") {
        let ratio = ratio.flatMap { $0.0.isFinite ? $0 : nil }
        figures.withLockedValue { $0.append(Figure(scenario: scenario, value: value, unit: unit, ratio: ratio?.0, ratioTo: ratio?.1, aim: aim)) }
        let padded = scenario.padding(toLength: 64, withPad: " ", startingAt: 0)
        let ratioText = ratio.map { String(format: "%8.2f %@", $0.0, $0.1) } ?? ""
        print("\(padded) \(String(format: "%12.2f", value)) \(unit.padding(toLength: 11, withPad: " ", startingAt: 0)) \(ratioText.padding(toLength: 30, withPad: " ", startingAt: 0)) \(aim)")
    }

    func write(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(figures.withLockedValue { $0 }).write(to: URL(fileURLWithPath: path))
        print("wrote \(path)")
    }
}

func unixMillis() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// CPU seconds (user + system) this process has used so far.
func processorSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func residentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return Double(line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) / 1024
}

/// The example certificates (published keys: for benchmarks and tests only), their keys made
/// owner-only first: git keeps no file modes, and accordd refuses a key others can read.
let exampleCertificates: String = {
    let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("certs-example/example").path
    for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where file.hasSuffix(".key") {
        chmod("\(folder)/\(file)", 0o600)
    }
    return folder
}()

/// Percentile `p` (0...1) of sorted values.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}
