import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// acme under attack and globex, its honest partner: two real `accordd` processes with the shared
/// hostile PKI and its revocation list. acme also accepts initech, whose certificates the
/// attacker holds; no initech node runs. Honest edits are agreements of acme and globex.
final class AttackedNetwork: Sendable {
    let acme: DaemonNode
    let globex: DaemonNode
    let pki: HostilePKI

    private init(acme: DaemonNode, globex: DaemonNode, pki: HostilePKI) {
        self.acme = acme
        self.globex = globex
        self.pki = pki
    }

    /// Starts the pair, waits for their session and their first shared agreement, runs `body`,
    /// then stops both (printing their logs if it failed).
    ///
    /// - Parameter onlyGlobexDials: acme's `[[peers]]` entry for globex points where nothing
    ///   listens, so every session between them is one globex dialled — through acme's budget of
    ///   connections that have not started a session, where an attacker's connections wait too.
    @discardableResult
    static func run<Result>(onlyGlobexDials: Bool = false, _ body: (AttackedNetwork) async throws -> Result) async throws -> Result {
        let nodes = try daemonMesh(["acme", "globex"])
        let pki = try await HostilePKI.shared
        for node in nodes {
            node.certificates = pki.consortium
            node.crl = pki.crlPath
        }
        if onlyGlobexDials { nodes[0].peers = [AccordProcess.Peer(organisation: "globex", port: try freePorts(1)[0])] }
        // No initech node runs: its address is a port nothing listens on.
        nodes[0].peers.append(AccordProcess.Peer(organisation: "initech", port: 1))
        return try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            try await eventually("acme and globex are in session") {
                let (acme, globex) = (try await nodes[0].metric("accord_peers_connected"), try await nodes[1].metric("accord_peers_connected"))
                return acme >= 1 && globex >= 1
            }
            return try await body(AttackedNetwork(acme: nodes[0], globex: nodes[1], pki: pki))
        }
    }

    /// An agreement created on acme until globex shows it, `count` times: p50 and worst, in
    /// milliseconds. Each is new, so the cost of writing and reading it stays the same however
    /// long the test runs (a note on one agreement would make every read of it a little longer).
    func honestLatency(count: Int = 20, lasting minimum: Duration = .zero) async throws -> Latency {
        let writer = acme.admin()
        let reader = globex.admin()
        var samples: [Double] = []
        let until = ContinuousClock.now + minimum
        var index = 0
        while samples.count < count || ContinuousClock.now < until {
            index += 1
            let started = ContinuousClock.now
            let created = try await writer.post(
                "/v1/agreements", json: #"{"title":"Honest \#(index)","category":"fullSupport","parties":["acme","globex"]}"#
            )
            guard created.status == 201 else { throw TestFailure("acme refused an honest agreement: \(created.text)") }
            let id = try AdminAPI.decoder().decode(CreatedAgreement.self, from: Data(created.body)).id
            try await eventually("globex shows honest agreement \(index)", timeout: .seconds(30), every: .milliseconds(1)) {
                try await reader.get("/v1/agreements/\(id)").status == 200
            }
            samples.append((ContinuousClock.now - started) / .milliseconds(1))
        }
        return Latency(samples)
    }

    /// CPU seconds used so far by acme, globex and this test process (which measures).
    private func cpuSeconds() -> [Double] {
        [acme.process?.pid, globex.process?.pid, getpid()].map { pid in pid.flatMap { processCPUSeconds(pid: $0) } ?? 0 }
    }

    /// Runs `body` while `accord-hostile-peer ARGUMENTS` attacks acme, from the moment it says the
    /// attack is under way; it is killed when `body` returns. The attacker runs under SCHED_IDLE
    /// (it gets a core only when nothing else wants it): on a real network an attacker's CPU is
    /// its own, and on these two shared cores a flooding loop would otherwise measure only how
    /// the scheduler shares them, not what the attack costs acme.
    func underAttack<Result>(_ arguments: [String], _ body: () async throws -> Result) async throws -> Result {
        let output = "\(acme.folder)/hostile-peer.out"
        try? FileManager.default.removeItem(atPath: output)
        let attacker = try Subprocess.spawn(
            "/usr/bin/chrt", ["--idle", "0", Binaries.hostilePeer] + arguments + ["--port", "\(acme.port)"], stdout: output, stderr: output
        )
        defer {
            attacker.signal(SIGKILL)
            _ = waitpid(attacker.pid, nil, 0)
        }
        // Under SCHED_IDLE the attacker starts only when the cores have time for it: on a loaded
        // machine that can take a while.
        try await eventually("the attack is under way (\(arguments.joined(separator: " ")))", timeout: .seconds(120)) {
            if let ended = try await attacker.wait(timeout: .zero) {
                throw TestFailure("accord-hostile-peer ended (\(ended)): \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
            }
            return ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("started")
        }
        return try await body()
    }

    /// The hostile peer's options for an attack with initech's certificate from the shared PKI.
    /// How long honest edits are measured during an attack.
    static let attackDuration: Duration = .seconds(3)

    func authenticated(_ command: String, _ options: [String] = []) -> [String] {
        [command, "--folder", pki.consortium, "--certificate", "initech-node1"] + options
    }

    /// Measures honest latency before and during an attack by `accord-hostile-peer ARGUMENTS`,
    /// sampling acme's memory, CPU and log, and checks the bounds every attack must respect:
    /// acme stays up, its peak resident memory stays within 64 MB of its baseline, honest edits
    /// keep arriving within twice their baseline latency (plus `AttackReport.latencyAllowance`),
    /// and its log grows by less than 1 MB per minute.
    @discardableResult
    func measure(_ name: String, attacker arguments: [String]) async throws -> AttackReport {
        let baseline = try #require(acme.memory, "acme runs")
        let before = try await honestLatency()
        let logBefore = acme.logBytes
        let cpuBefore = cpuSeconds()
        let peak = Maximum(baseline.resident)
        let (during, duration) = try await underAttack(arguments) {
            let began = ContinuousClock.now
            let during = try await withThrowingTaskGroup(of: Latency?.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        if let memory = self.acme.memory { peak.observe(memory.resident) }
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    return nil
                }
                group.addTask { try await self.honestLatency(lasting: Self.attackDuration) }
                var result: Latency?
                for try await outcome in group where outcome != nil {
                    result = outcome
                    group.cancelAll()
                }
                return try #require(result)
            }
            return (during, ContinuousClock.now - began)
        }
        let cpu = zip(cpuSeconds(), cpuBefore).map { $0 - $1 }
        let final = try #require(acme.memory, "acme is still running after \(name)")
        // VmHWM catches a spike between samples; it only counts if it rose during the attack.
        let peakResident = max(peak.maximum, final.peak > baseline.peak ? final.peak : 0)
        let report = AttackReport(
            name: name, baselineMegabytes: baseline.resident, peakMegabytes: peakResident, before: before, during: during,
            logBytes: acme.logBytes - logBefore, duration: duration, cpuSeconds: cpu
        )
        print(report.line)
        report.check()
        return report
    }
}

/// Honest edit latencies, in milliseconds.
struct Latency: Sendable {
    let p50: Double
    let worst: Double

    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        p50 = sorted[sorted.count / 2]
        worst = sorted.last ?? 0
    }
}

/// What one attack cost acme, as docs/reliability.md tabulates it.
struct AttackReport: Sendable {
    /// Two cores serve acme, globex, the attacker and this test process: an honest edit's few
    /// milliseconds can double from scheduling alone, so the latency bound is 2× plus this.
    static let latencyAllowance = 5.0

    let name: String
    let baselineMegabytes: Double
    let peakMegabytes: Double
    let before: Latency
    let during: Latency
    let logBytes: Int
    let duration: Duration
    /// CPU seconds acme, globex and the test process (the measurement) used meanwhile.
    let cpuSeconds: [Double]

    var logBytesPerMinute: Double { Double(logBytes) / max(duration / .seconds(60), 1.0 / 60) }

    var line: String {
        String(
            format: "attack, %@: RSS %.0f MB → peak %.0f MB (+%.1f); honest p50 %.1f ms before, %.1f ms during (worst %.1f); log +%d B in %.1f s; CPU s acme %.2f, globex %.2f, test %.2f",
            name, baselineMegabytes, peakMegabytes, peakMegabytes - baselineMegabytes, before.p50, during.p50, during.worst, logBytes,
            duration / .seconds(1), cpuSeconds[0], cpuSeconds[1], cpuSeconds[2]
        )
    }

    func check() {
        #expect(peakMegabytes - baselineMegabytes <= 64, "\(name): acme grew by \(peakMegabytes - baselineMegabytes) MB")
        #expect(
            during.p50 <= 2 * before.p50 + Self.latencyAllowance,
            "\(name): honest p50 \(during.p50) ms during the attack, \(before.p50) ms before"
        )
        #expect(logBytesPerMinute < 1_000_000, "\(name): acme's log grew by \(logBytes) bytes in \(duration)")
    }
}
