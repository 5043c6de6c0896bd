import AccordTestSupport
import Foundation

/// The soak's fault classes (docs/reliability.md, "The chaos soak"), each with its weight among
/// the random faults.
enum FaultClass: String, CaseIterable, Codable, Sendable {
    /// SIGKILL, restart 0.1–2 s later: the kernel keeps what the process wrote.
    case kill
    /// SIGKILL, then every write not yet synced is undone (PowerCut), then a restart.
    case powerCut
    /// SIGKILL, the data directory deleted, a restart with an empty one: rebuilt from partners.
    case dataLoss
    /// SIGSTOP for 0.5–6 s (past the idle timeout of 4 s now and then), then SIGCONT.
    case pause
    /// The node's clock back by up to an hour, or ahead by up to 4 minutes, for 0.5–4 s.
    case clockJump
    /// The node's disk (its own tmpfs) filled up to 32 KB for 0.5–4 s.
    case diskFull
    /// The node's certificate reissued to expire 3 s later and reloaded; renewed and reloaded
    /// 0.5–4 s after it expired.
    case certificateExpiry
    /// A link closed, new connections refused.
    case linkCut
    /// A link that stops carrying bytes both ways.
    case linkStall
    /// A link that carries one direction only.
    case oneWayStall
    /// A link that delays its bytes by 5–250 ms.
    case linkDelay

    var concernsLink: Bool { [.linkCut, .linkStall, .oneWayStall, .linkDelay].contains(self) }

    var weight: Int {
        switch self {
        case .kill: 20
        case .powerCut: 10
        case .dataLoss: 2
        case .pause: 8
        case .clockJump: 8
        case .diskFull: 4
        case .certificateExpiry: 3
        case .linkCut: 14
        case .linkStall: 14
        case .oneWayStall: 12
        case .linkDelay: 5
        }
    }
}

/// Which fault comes next: first every enabled class once, in an order drawn from the seed (so
/// that even a short soak has each of them), then classes drawn by weight.
struct FaultSchedule {
    private var opening: [FaultClass]
    private let enabled: [FaultClass]

    init(enabled: [FaultClass], random: inout SplitMix64) {
        self.enabled = enabled
        opening = enabled.shuffled(using: &random)
    }

    mutating func next(_ random: inout SplitMix64) -> FaultClass {
        if !opening.isEmpty { return opening.removeFirst() }
        var roll = Int.random(in: 0..<enabled.reduce(0) { $0 + $1.weight }, using: &random)
        for fault in enabled {
            if roll < fault.weight { return fault }
            roll -= fault.weight
        }
        return enabled[enabled.count - 1]
    }
}

/// A fault to undo when its time is up.
enum Restoration {
    case link(FaultProxy, FaultProxy.Mode)
    case clock(AccordProcess)
    case disk(AccordProcess, filler: String)
    case certificate(AccordProcess)

    /// The node it concerns, if it concerns one.
    var node: AccordProcess? {
        switch self {
        case .link: nil
        case .clock(let node), .disk(let node, _), .certificate(let node): node
        }
    }
}

extension Soak {
    /// Waits 0.3–1.5 s, undoes the faults whose time is up, and injects the next one.
    func randomFault(_ schedule: inout FaultSchedule, _ random: inout SplitMix64) async throws {
        try await Task.sleep(for: .milliseconds(Int.random(in: 300...1500, using: &random)))
        try await restore(dueBy: ContinuousClock.now)
        let fault = schedule.next(&random)
        let hold = Duration.milliseconds(Int.random(in: 500...4000, using: &random))
        let node = nodes[Int.random(in: 0..<nodes.count, using: &random)]
        switch fault {
        case .kill, .powerCut, .dataLoss:
            guard node.isRunning else { return }
            try await node.stop(SIGKILL)
            try await restore(node)
            let power = try powerCut(node)
            switch fault {
            case .powerCut: summary.bytesUndone += try power.cut().bytesUndone
            case .dataLoss:
                try power.discard()
                try FileManager.default.removeItem(atPath: node.dataDirectory)
                try FileManager.default.createDirectory(atPath: node.dataDirectory, withIntermediateDirectories: true)
                await ledger.diskLost(node.label)
            default: try power.discard()
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 100...2000, using: &random)))
            try await node.start()
        case .pause:
            guard let process = node.process else { return }
            process.signal(SIGSTOP)
            try await Task.sleep(for: .milliseconds(Int.random(in: 500...6000, using: &random)))
            process.signal(SIGCONT)
        case .clockJump:
            // Ahead stays within the 5 minutes of skew partners accept, so that nothing waits hours
            // to converge (jumps beyond it have a focused test); back goes up to an hour.
            let offset = Int.random(in: 0..<3, using: &random) == 0
                ? Int64.random(in: 1_000...240_000, using: &random) : -Int64.random(in: 1_000...3_600_000, using: &random)
            try Self.setClock(node, offsetMillis: offset)
            restorations.append((ContinuousClock.now + hold, .clock(node)))
        case .diskFull:
            guard let mount = diskOfItsOwn, let owner = nodes.first(where: { $0.dataDirectory.hasPrefix(mount.path + "/") }),
                !restorations.contains(where: { if case .disk = $0.action { true } else { false } }), !hasFault(.certificate, owner)
            else { return }
            let filler = try mount.fill(leaving: 32 * 1024)
            restorations.append((ContinuousClock.now + hold, .disk(owner, filler: filler)))
        case .certificateExpiry:
            // Not on a full disk: the node cannot record the new certificate, so the reload is
            // refused (rightly; the 30-minute soak met it) and the fault would not be the one drawn.
            guard node.isRunning, !hasFault(.certificate, node), !hasFault(.disk, node) else { return }
            try await issueCertificate(node, until: Date().addingTimeInterval(3))
            restorations.append((ContinuousClock.now + .seconds(3) + hold, .certificate(node)))
        case .linkCut, .linkStall, .oneWayStall, .linkDelay:
            let proxy = proxies[Int.random(in: 0..<proxies.count, using: &random)]
            let mode: FaultProxy.Mode = switch fault {
            case .linkCut: .cut
            case .linkStall: .stall
            case .oneWayStall: Bool.random(using: &random) ? .stallToNode : .stallFromNode
            default: .delay(.milliseconds(Int.random(in: 5...250, using: &random)))
            }
            proxy.set(mode)
            restorations.append((ContinuousClock.now + hold, .link(proxy, mode)))
        }
        summary.faults[fault.rawValue, default: 0] += 1
        recordFault(fault, node: node)
    }

    private enum NodeFault { case certificate, disk }

    /// Whether a fault of `kind` on `node` is waiting to be undone.
    private func hasFault(_ kind: NodeFault, _ node: AccordProcess) -> Bool {
        restorations.contains { restoration in
            switch (kind, restoration.action) {
            case (.certificate, .certificate(let lapsed)): lapsed === node
            case (.disk, .disk(let owner, _)): owner === node
            default: false
            }
        }
    }

    /// One line per fault in `faults.log` under the soak's folder, to read beside the nodes' logs
    /// when a promise fails.
    private func recordFault(_ fault: FaultClass, node: AccordProcess) {
        let line = "\(ISO8601DateFormatter().string(from: Date())) \(fault.rawValue) \(fault.concernsLink ? "a link" : node.label)\n"
        let path = "\(options.root)/faults.log"
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let file = FileHandle(forWritingAtPath: path) else { return }
        defer { try? file.close() }
        _ = try? file.seekToEnd()
        try? file.write(contentsOf: Data(line.utf8))
    }

    /// Undoes every fault due by `instant` (all of them with `.distantFuture`).
    func restore(dueBy instant: ContinuousClock.Instant) async throws {
        let due = restorations.filter { $0.due <= instant }
        restorations.removeAll { $0.due <= instant }
        for restoration in due { try await undo(restoration.action) }
    }

    /// Undoes the faults that concern `node` now, before it is restarted: a node is not restarted
    /// on a full disk or with an expired certificate (an operator would fix those first).
    func restore(_ node: AccordProcess) async throws {
        let concerning = restorations.filter { $0.action.node === node }
        restorations.removeAll { $0.action.node === node }
        for restoration in concerning { try await undo(restoration.action) }
    }

    private func undo(_ action: Restoration) async throws {
        switch action {
        case .link(let proxy, let mode): if proxy.mode == mode { proxy.set(.pass) }
        case .clock(let node): try Self.setClock(node, offsetMillis: 0)
        case .disk(_, let filler): try FileManager.default.removeItem(atPath: filler)
        case .certificate(let node): try await issueCertificate(node, until: nil)
        }
    }

    /// Reissues `node`'s certificate (new key) to expire at `end` (a year by default) and, if the
    /// node runs, reloads it.
    private func issueCertificate(_ node: AccordProcess, until end: Date?) async throws {
        let validity = end.map { ["--end", TestCertificates.validityDate($0)] } ?? ["-d", "365"]
        let made = try await Subprocess.run(
            "/bin/bash", ["\(options.repository)/certs-example/make-certs.sh", "-o", certificates] + validity + ["\(node.organisation):\(node.name)"]
        )
        guard made.succeeded else { throw TestFailure("make-certs.sh failed: \(made.stderr)") }
        guard node.isRunning else { return }
        let reload = try await node.reload()
        if !reload.succeeded { summary.failures.append("\(node.label): reload of a reissued certificate failed: \(reload.stderr.prefix(300))") }
    }
}
