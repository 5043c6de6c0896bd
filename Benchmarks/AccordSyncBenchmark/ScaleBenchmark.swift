import AccordAdminAPI
import AccordTestSupport
import Foundation

/// `accord-bench --scale`: a consortium of many organisations' accordd processes on loopback, each
/// configured with every other node as a peer (issue 18, docs/scaling.md). Seeded: the
/// agreements' parties, the edits and the node that is stopped come from `--seed`. Bounded: every
/// wait has a deadline. Measures, with production sync settings (keepalive 15 s, idle timeout
/// 45 s, reconciliation every 300 s):
/// - idle cost per node with every session up: CPU, resident memory, descriptors and sockets,
///   reconciliation bytes per peer per hour;
/// - fan-out: an edit reaching every other party's node, seen through `accordctl watch`;
/// - catch-up of a node that was stopped while changes concerning it were made.
struct ScaleBenchmark {
    struct Shape {
        var organisations: Int
        /// How many of them run two nodes.
        var twoNodeOrganisations: Int
        var agreements: Int
        var fanOutEdits: Int
        var catchUpChanges: Int
        var idleSeconds: Int
        var seed: UInt64
    }

    let shape: Shape
    let binaries: String
    let report: BenchReport

    func run() async throws {
        let limits = try await SameRunLimits.measure(binaries: binaries, report: report)
        var random = SplitMix64(seed: shape.seed)
        let consortium = try await ScaleConsortium.start(shape, binaries: binaries)
        defer { consortium.remove() }
        let nodes = consortium.nodes
        print("\(nodes.count) accordd processes of \(shape.organisations) organisations up, every session established")

        // Agreements of 2–5 parties, each created on a node of one of its parties, in bulk.
        let agreements = try await consortium.createAgreements(shape.agreements, random: &random)
        let settle = ContinuousClock.now
        try await consortium.waitUntilEveryNodeHoldsItsAgreements(agreements)
        report.record("agreements of 2–5 parties, created and delivered", Double(agreements.count), "agreements")
        report.record("  delivered to every party's node after the last create", seconds(ContinuousClock.now - settle), "s")

        // Idle: every session up, keepalives and periodic reconciliation running.
        try await Task.sleep(for: .seconds(15))
        let idle = try await consortium.measureIdle(for: .seconds(shape.idleSeconds))
        report.record("idle: CPU per node, mean (\(shape.idleSeconds) s)", idle.cpuPercent.mean, "% of core", aim: "≤ 0.5 %")
        report.record("idle: CPU per node, max", idle.cpuPercent.max, "% of core", aim: "≤ 0.5 %")
        report.record("idle: resident memory per node, mean", idle.residentMegabytes.mean, "MB", aim: "≤ 40 MB")
        report.record("idle: resident memory per node, max", idle.residentMegabytes.max, "MB", aim: "≤ 40 MB")
        report.record("  of it: the node's own (RssAnon), mean", idle.anonymousMegabytes.mean, "MB")
        report.record("  of it: executable and libraries (RssFile), mean", idle.fileBackedMegabytes.mean, "MB")
        report.record("idle: file descriptors per node, max", idle.descriptors.max, "fds")
        report.record("idle: sockets per node, max (peers \(nodes.count - 1))", idle.sockets.max, "sockets")
        report.record("idle: reconciliation rounds per peer per hour", idle.roundsPerPeerHour, "rounds")
        report.record("idle: reconciliation bytes per peer per hour", idle.reconcileBytesPerPeerHour, "B", aim: "≤ 10 KB")

        // Fan-out: one edit at a time, until every other party's node announces it.
        let latencies = try await consortium.fanOut(shape.fanOutEdits, agreements: agreements, random: &random)
        for (label, p) in [("p50", 0.5), ("p99", 0.99)] {
            let value = percentile(latencies, p)
            report.record(
                "fan-out: edit at every other party's node, \(label)", value, "ms",
                ratio: (value / limits.tlsRoundTripMilliseconds, "× TLS round trip"), aim: label == "p99" ? "≤ 50 ms" : ""
            )
        }

        // Catch-up of a node that was away while changes concerning it were made.
        let catchUp = try await consortium.catchUp(shape.catchUpChanges, agreements: agreements, random: &random)
        report.record(
            "catch-up: \(catchUp.node) after \(shape.catchUpChanges) changes while stopped", catchUp.seconds, "s",
            ratio: (catchUp.seconds / limits.verificationFloor(shape.catchUpChanges), "× verification floor")
        )
        report.record("  of it: from start to the admin API answering", catchUp.startSeconds, "s")
        try await consortium.stopAll()
    }
}

/// A real agreement and where it lives.
struct ScaleAgreement {
    let id: String
    let parties: [String]
}

/// Mean and maximum over the nodes.
struct Spread {
    var mean: Double
    var max: Double

    init(_ values: [Double]) {
        mean = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
        max = values.max() ?? 0
    }
}
