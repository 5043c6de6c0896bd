import AccordTestSupport
import Foundation

/// A real Prometheus server (Debian's `prometheus`) in a folder of its own, scraping nodes'
/// metrics listeners every second with deploy/prometheus/accord-alerts.yml loaded — every `for:`
/// shortened to 2 s, so an alert fires within seconds — and read through its HTTP API with curl.
final class PrometheusServer: Sendable {
    let port: Int
    let folder: String

    /// - Parameter targets: the loopback ports of the nodes' metrics listeners (job "accord").
    init(port: Int, targets: [Int]) throws {
        self.port = port
        folder = TestCertificates.temporaryFolder("accord-prometheus")
        try FileManager.default.createDirectory(atPath: "\(folder)/data", withIntermediateDirectories: true)
        let rules = try String(contentsOfFile: "\(TestCertificates.repository)/deploy/prometheus/accord-alerts.yml", encoding: .utf8)
        let shortened = rules.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.trimmingCharacters(in: .whitespaces).hasPrefix("for:") ? line.prefix { $0 == " " } + "for: 2s" : String(line)
        }
        try shortened.joined(separator: "\n").write(toFile: "\(folder)/accord-alerts.yml", atomically: true, encoding: .utf8)
        let configuration = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files: [accord-alerts.yml]
            scrape_configs:
              - job_name: accord
                static_configs:
                  - targets: [\(targets.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", "))]
            """
        try configuration.write(toFile: "\(folder)/prometheus.yml", atomically: true, encoding: .utf8)
    }

    /// Starts the server, runs `body`, and stops the server (SIGKILL: its data is thrown away)
    /// and removes its folder, also when `body` throws.
    func whileRunning<Result>(
        isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Result
    ) async throws -> Result {
        let arguments = [
            "--config.file=\(folder)/prometheus.yml", "--storage.tsdb.path=\(folder)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ]
        let process = try Subprocess.spawn("/usr/bin/prometheus", arguments, stdout: "\(folder)/out.log", stderr: "\(folder)/err.log")
        func stop() async {
            process.signal(SIGKILL)
            _ = try? await process.wait()
            try? FileManager.default.removeItem(atPath: folder)
        }
        do {
            let result = try await body()
            await stop()
            return result
        } catch {
            print("--- prometheus log ---\n\((try? String(contentsOfFile: "\(folder)/err.log", encoding: .utf8)) ?? "")")
            await stop()
            throw error
        }
    }

    struct Sample: Sendable, CustomStringConvertible {
        let labels: [String: String]
        let value: String
        var description: String { "\(labels) \(value)" }
    }

    /// An instant query's samples (`GET /api/v1/query`).
    func query(_ expression: String) async throws -> [Sample] {
        let data = try await get("/api/v1/query", ["query": expression])
        let results = (data["result"] as? [[String: Any]]) ?? []
        return results.map { result in
            Sample(
                labels: (result["metric"] as? [String: String]) ?? [:],
                value: ((result["value"] as? [Any])?.last as? String) ?? ""
            )
        }
    }

    /// The labels of every firing alert (`GET /api/v1/alerts`), `alertname` among them.
    func firingAlerts() async throws -> [[String: String]] {
        let data = try await get("/api/v1/alerts", [:])
        let alerts = (data["alerts"] as? [[String: Any]]) ?? []
        return alerts.filter { $0["state"] as? String == "firing" }.compactMap { $0["labels"] as? [String: String] }
    }

    /// `data` of a successful API answer; throws with the answer otherwise.
    private func get(_ path: String, _ query: [String: String]) async throws -> [String: Any] {
        var arguments = ["--silent", "--show-error", "--max-time", "5", "--get", "http://127.0.0.1:\(port)\(path)"]
        for (name, value) in query { arguments += ["--data-urlencode", "\(name)=\(value)"] }
        let result = try await Subprocess.run("/usr/bin/curl", arguments, timeout: .seconds(10))
        guard result.succeeded,
            let answer = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
            answer["status"] as? String == "success", let data = answer["data"] as? [String: Any]
        else { throw TestFailure("Prometheus \(path): \(result.stdout) \(result.stderr)") }
        return data
    }
}

