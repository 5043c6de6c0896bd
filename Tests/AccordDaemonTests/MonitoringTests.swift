import AccordTestSupport
import Foundation
import HTTPTypes
import Testing

/// The node as Prometheus sees it: the metrics listener, the documented metrics, the alert rules
/// and the dashboard checked against what a node serves, and a real Prometheus server scraping two
/// real nodes until an alert fires.
@Suite("Monitoring")
struct MonitoringTests {
    @Test("every metric in docs/monitoring.md is served with its type and every served one is documented; the alert rules and the dashboard name only served metrics")
    func documentedMetrics() async throws {
        let node = try await InProcessNode(metrics: 1)
        let served = try await node.admin.send(.get, "/metrics")
        await node.close()
        let types = Self.types(served.text)
        #expect(types.count >= 40, "\(types.count) metrics served")

        let documented = try Self.documentedTypes()
        for (name, type) in types.sorted(by: { $0.key < $1.key }) {
            #expect(documented[name] == type, "\(name) (\(type)) is served; docs/monitoring.md says \(documented[name] ?? "nothing")")
        }
        for name in Set(documented.keys).subtracting(types.keys).sorted() {
            Issue.record("\(name) is in docs/monitoring.md but not served")
        }
        for (name, type) in types where type == "counter" {
            #expect(name.hasSuffix("_total"), "the counter \(name) ends in _total")
        }

        let rules = try String(contentsOfFile: "\(TestCertificates.repository)/deploy/prometheus/accord-alerts.yml", encoding: .utf8)
        let ruleExpressions = rules.split(separator: "\n").filter { $0.contains("expr:") }.map(String.init)
        #expect(ruleExpressions.count >= 12)
        let dashboard = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(TestCertificates.repository)/deploy/grafana/accord.json"))
        )
        let queries = Self.expressions(in: dashboard)
        #expect(queries.count >= 14, "\(queries.count) dashboard queries")
        for (source, expression) in ruleExpressions.map({ ("accord-alerts.yml", $0) }) + queries.map({ ("accord.json", $0) }) {
            let names = Self.metricNames(in: expression)
            #expect(!names.isEmpty || expression.contains("up{"), "\(source): \(expression) names no metric")
            for name in names { #expect(types[name] != nil, "\(source): \(expression) names \(name), which no node serves") }
        }
    }

    @Test("the metrics listener serves GET /metrics alone: another path or method is 404; a flood of scrapes renders once a second")
    func metricsListenerRoutes() async throws {
        let node = try await InProcessNode(metrics: 1)
        let metrics = try #require(node.metrics)
        let answer = try await metrics.send(.get, "/metrics")
        let status = try await metrics.send(.get, "/v1/status")
        let write = try await metrics.send(.post, "/metrics")
        let agreements = try await metrics.send(.get, "/v1/agreements")
        // A flood of scrapes is rendered at most once a second: the uptime (in milliseconds)
        // changes only between renders.
        let flooding = ContinuousClock.now
        var uptimes: Set<Substring> = []
        for _ in 0..<200 {
            let text = try await metrics.send(.get, "/metrics").text
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("accord_uptime_seconds ") }) { uptimes.insert(line) }
        }
        let seconds = (ContinuousClock.now - flooding) / .seconds(1)
        await node.close()
        #expect(uptimes.count <= Int(seconds) + 2, "\(uptimes.count) renders for 200 requests in \(seconds) s")
        #expect(answer.status == .ok && answer.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(answer.text.contains("\naccord_up 1\n"))
        #expect(status.status == .notFound && agreements.status == .notFound, "nothing of the admin API is reachable")
        #expect(write.status == .notFound, "no other method either")
    }

    @Test("a real accordd's metrics listener: a connection over its limit is closed and counted, a request that never ends is cut at its deadline")
    func metricsListenerBounds() async throws {
        let node = try DaemonNode("acme", port: try freePorts(1)[0])
        node.metricsPort = try freePorts(1)[0]
        let port = try #require(node.metricsPort)
        try await withNodes([node]) {
            try await node.start()
            let client = AdminSocketClient(loopbackPort: port)
            try await eventually("the metrics listener answers") { (try? await client.get("/metrics"))?.status == 200 }
            #expect(try await client.get("/metrics").text.contains("\naccord_up 1\n"))

            // Its limit of 8 connections: the client above holds one; eight more are one too many.
            // Which of them the node refuses depends on the order it accepts them in.
            do {
                let opened = try (0..<8).map { _ in try AdminSocketClient.connect(loopbackPort: port) }
                defer { opened.forEach { close($0) } }
                try await eventually("one connection over the limit is closed by the node") {
                    opened.filter(Self.closedByPeer).count == 1
                }
                #expect(try await node.metric("accord_refusals_total", reason: "too-many-metrics-connections") == 1)
                #expect(node.log.components(separatedBy: "too-many-metrics-connections").count - 1 == 1, "the refusal is logged once")
            }

            // Slowloris: a request head that never ends is cut at the 10 s deadline (once the
            // node has seen the connections above closed and has room for it).
            try await eventually("the listener has room again") { (try? await AdminSocketClient(loopbackPort: port).get("/metrics"))?.status == 200 }
            let slow = try AdminSocketClient.connect(loopbackPort: port)
            defer { close(slow) }
            _ = "GET /metrics HTTP/1.1\r\nHost: acme\r\n".withCString { write(slow, $0, strlen($0)) }
            let started = ContinuousClock.now
            let rest = try await AdminSocketClient.drain(slow, timeout: .seconds(30))
            let waited = ContinuousClock.now - started
            #expect(waited >= .seconds(9) && waited < .seconds(25), "closed at its deadline, not refused: after \(waited)")
            #expect(!String(decoding: rest, as: UTF8.self).contains("accord_up"), "nothing was served to it")
        }
    }

    @Test("a real Prometheus scrapes two real nodes, reads their series back, and fires AccordPartnerDisconnected when a partner stops")
    func prometheusScrapesAndAlerts() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        let ports = try freePorts(3)
        acme.metricsPort = ports[0]
        globex.metricsPort = ports[1]
        let prometheus = try PrometheusServer(port: ports[2], targets: [ports[0], ports[1]])
        try await withNodes(nodes) {
            try await acme.start()
            try await globex.start()
            try await acme.waitForSession(with: "globex/node1")
            try await prometheus.whileRunning {
                try await eventually("Prometheus has scraped both nodes", timeout: .seconds(60), every: .milliseconds(500)) {
                    (try? await prometheus.query("accord_up"))?.count == 2
                }
                let connected = try await prometheus.query("accord_partner_connected")
                #expect(Set(connected.map { $0.labels["organisation"] }) == ["acme", "globex"])
                #expect(connected.allSatisfy { $0.value == "1" }, "\(connected)")
                let certificates = try await prometheus.query("accord_certificate_expiry_timestamp_seconds")
                #expect(certificates.count == 4, "each node reports its own and its peer's certificate: \(certificates)")

                _ = try await globex.stop()
                try await eventually("AccordPartnerDisconnected fires on acme", timeout: .seconds(60), every: .milliseconds(500)) {
                    try await prometheus.firingAlerts().contains {
                        $0["alertname"] == "AccordPartnerDisconnected" && $0["organisation"] == "globex" && $0["instance"] == "127.0.0.1:\(ports[0])"
                    }
                }
                try await eventually("AccordNodeDown fires for globex", timeout: .seconds(60), every: .milliseconds(500)) {
                    try await prometheus.firingAlerts().contains { $0["alertname"] == "AccordNodeDown" && $0["instance"] == "127.0.0.1:\(ports[1])" }
                }
                #expect(try await !prometheus.firingAlerts().contains { $0["alertname"] == "AccordPartnerDisconnected" && $0["organisation"] == "acme" })
            }
        }
    }

    /// Whether the other end closed `fd`: it reads as ended, without waiting.
    static func closedByPeer(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }

    /// `# TYPE name type` lines.
    static func types(_ exposition: String) -> [String: String] {
        var types: [String: String] = [:]
        for line in exposition.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            if parts.count == 4 { types[String(parts[2])] = String(parts[3]) }
        }
        return types
    }

    /// The metrics table of docs/monitoring.md: the name (without its labels) and the type.
    static func documentedTypes() throws -> [String: String] {
        let text = try String(contentsOfFile: "\(TestCertificates.repository)/docs/monitoring.md", encoding: .utf8)
        var documented: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `accord_") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2 else { continue }
            let name = cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`")).prefix { $0 != "{" }
            documented[String(name)] = cells[1]
        }
        return documented
    }

    /// Every `expr` string anywhere in a decoded JSON document.
    static func expressions(in json: Any) -> [String] {
        if let object = json as? [String: Any] {
            return object.flatMap { key, value in key == "expr" ? [value as? String].compactMap { $0 } : expressions(in: value) }
        }
        if let array = json as? [Any] { return array.flatMap(expressions(in:)) }
        return []
    }

    static func metricNames(in expression: String) -> Set<String> {
        Set(expression.matches(of: /accord_[a-z0-9_]+/).map { String($0.output) })
    }
}
