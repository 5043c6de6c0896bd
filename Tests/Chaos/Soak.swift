import AccordAdminAPI
import AccordTestSupport
import Foundation

/// The soak: nodes behind fault proxies, random operations through accordctl, random faults of
/// every class in `FaultClass` (Faults.swift), then heal and check every promise.
final class Soak: @unchecked Sendable {
    struct Options {
        var seed: UInt64
        var seconds: Int
        var workers: Int
        var binaries: String
        var root: String
        var repository: String
    }

    struct Summary: Codable {
        var seed: UInt64
        var seconds: Int
        var nodes: Int
        var organisations: Int
        var agreements = 0
        var acknowledgedChanges = 0
        var operations: [String: Int] = [:]
        var refusedOperations = 0
        var unreachableOperations = 0
        /// Faults injected, by class (`FaultClass` raw values).
        var faults: [String: Int] = [:]
        /// Bytes of unsynced writes the power cuts took back.
        var bytesUndone: UInt64 = 0
        /// Acknowledged changes that never left a node before its data directory was deleted:
        /// lost with the disk, as nothing can bring them back (no backup, no partner had them).
        var lostWithDisk = 0
        var secondsToConverge = 0.0
        var failures: [String] = []
    }

    static let layout: [(organisation: String, name: String)] = [
        ("acme", "node1"), ("acme", "node2"), ("globex", "node1"), ("initech", "node1"), ("umbrella", "node1"),
    ]
    var organisations: [String] { Array(Set(Self.layout.map(\.organisation))).sorted() }

    let options: Options
    let ledger = Ledger()
    private(set) var nodes: [AccordProcess] = []
    private(set) var proxies: [FaultProxy] = []
    var summary: Summary
    private let counters = Counters()
    /// Faults to undo, and when (Faults.swift).
    var restorations: [(due: ContinuousClock.Instant, action: Restoration)] = []
    /// The last node's data directory is on a tmpfs of its own, to fill it (needs root; without
    /// it there are no disk-full faults).
    private(set) var diskOfItsOwn: TmpfsMount?
    var certificates: String { "\(options.root)/pki" }

    init(options: Options) {
        self.options = options
        summary = Summary(seed: options.seed, seconds: options.seconds, nodes: Self.layout.count, organisations: 4)
    }

    // MARK: - Set-up

    func setUp() async throws {
        let script = "\(options.repository)/certs-example/make-certs.sh"
        let groups = Dictionary(grouping: Self.layout, by: \.organisation).map { "\($0.key):\($0.value.map(\.name).joined(separator: ","))" }
        let made = try await Subprocess.run("/bin/bash", [script, "-o", certificates] + groups.sorted())
        guard made.succeeded else { throw TestFailure("make-certs.sh failed: \(made.stderr)") }

        let ports = try freePorts(Self.layout.count)
        nodes = try zip(Self.layout, ports).map {
            try AccordProcess(
                $0.organisation, name: $0.name, port: $1, binaries: options.binaries, folder: "\(options.root)/\($0.organisation)-\($0.name)"
            )
        }
        // One proxy per direction of every pair: node i reaches node j only through proxy (i, j).
        for node in nodes {
            for peer in nodes where peer !== node {
                let proxy = try await FaultProxy(to: peer.port)
                proxies.append(proxy)
                node.peers.append(AccordProcess.Peer(organisation: peer.organisation, port: proxy.port))
            }
            node.certificates = certificates
            node.idleTimeoutSeconds = 4
            node.reconcileIntervalSeconds = 5
            node.options = ["--clock-offset-file", Self.clockOffsetFile(node)]
            try Self.setClock(node, offsetMillis: 0)
        }
        if TmpfsMount.isAvailable, let last = nodes.last {
            let mount = try TmpfsMount(size: "1g")
            diskOfItsOwn = mount
            last.dataDirectory = "\(mount.path)/data"
        }
        for node in nodes { node.environment = try await powerCut(node).environment() }
        for node in nodes { try await node.start() }
    }

    // MARK: - Chaos

    /// The fault classes this machine can inject.
    var enabledFaults: [FaultClass] { FaultClass.allCases.filter { $0 != .diskFull || diskOfItsOwn != nil } }

    /// Operations and faults until the time is up.
    func run() async throws {
        let deadline = ContinuousClock.now + .seconds(options.seconds)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<options.workers {
                group.addTask {
                    var random = SplitMix64(seed: self.options.seed &+ UInt64(worker) &* 0x9E37_79B9)
                    while ContinuousClock.now < deadline { try await self.randomOperation(&random) }
                }
            }
            group.addTask {
                var random = SplitMix64(seed: self.options.seed ^ 0xFA17_FA17_FA17_FA17)
                var schedule = FaultSchedule(enabled: self.enabledFaults, random: &random)
                while ContinuousClock.now < deadline { try await self.randomFault(&schedule, &random) }
            }
            try await group.waitForAll()
        }
    }

    private func randomOperation(_ random: inout SplitMix64) async throws {
        let node = nodes[Int.random(in: 0..<nodes.count, using: &random)]
        let roll = Int.random(in: 0..<100, using: &random)
        let known = await ledger.agreements(withParty: node.organisation)
        if roll < 12 || known.isEmpty {
            let others = organisations.filter { $0 != node.organisation }.shuffled(using: &random)
            let parties = [node.organisation] + others.prefix(Int.random(in: 1...2, using: &random))
            let number = counters.nextAgreement()
            let token = "chaos#\(String(number, radix: 36))#\(options.seed % 1000)#"
            let created: CreatedAgreement? = try await node.answer(
                ["agreements", "create", "--title", "\(token) partnership", "--category", "technicalResources"] + parties.flatMap { ["--party", $0] }
            )
            if let created {
                await ledger.created(created.id, token: token, parties: parties, change: created.change, by: node.label)
            } else {
                await noteFailure(node)
            }
            return
        }
        let id = known[Int.random(in: 0..<known.count, using: &random)]
        guard let token = await ledger.agreements[id]?.token else { return }
        let edit = counters.nextEdit()
        let operation: (String, [String], String?)
        switch roll {
        case 12..<35: operation = ("title", ["agreements", "set", id, "title", "\(token) revised \(edit)"], nil)
        case 35..<45: operation = ("framework", ["agreements", "set", id, "framework.technicalFit", "\(token) fit \(edit)"], nil)
        case 45..<70: operation = ("note", ["agreements", "note", id, "\(token) note \(edit)"], nil)
        case 70..<82: operation = ("approve", ["agreements", "approve", id], nil)
        case 82..<88:
            operation = ("commitment", ["agreements", "commitment", id, "add", "--by", node.organisation, "--kind", "other", "--description", "\(token) commitment \(edit)"], nil)
        case 88..<93:
            let newcomer = organisations[Int.random(in: 0..<organisations.count, using: &random)]
            operation = ("party", ["agreements", "party", id, "add", newcomer], newcomer)
        case 93..<95: operation = ("withdraw", ["agreements", "party", id, "withdraw", node.organisation], nil)
        default:
            _ = try await node.ctl(["sync"])
            return
        }
        let receipt: ChangeReceipt? = try await node.answer(operation.1)
        if let receipt {
            await ledger.acknowledge(operation.0, agreement: id, change: receipt.change, by: node.label, addedParty: operation.2)
        } else {
            await noteFailure(node)
        }
    }

    /// The file through which the soak moves a node's clock (`accordd --clock-offset-file`).
    static func clockOffsetFile(_ node: AccordProcess) -> String { "\(node.folder)/clock-offset" }

    static func setClock(_ node: AccordProcess, offsetMillis: Int64) throws {
        try "\(offsetMillis)\n".write(toFile: clockOffsetFile(node), atomically: true, encoding: .utf8)
    }

    /// The node's power-cut undo logs (its accordd runs with the library preloaded).
    func powerCut(_ node: AccordProcess) throws -> PowerCut {
        try PowerCut(dataDirectory: node.dataDirectory, undoDirectory: "\(node.folder)/undo")
    }

    private func noteFailure(_ node: AccordProcess) async {
        await ledger.failed(unreachable: !node.isRunning)
    }

    // MARK: - Heal and check

    /// Heals every link, restarts every node, waits for convergence and checks every promise.
    func healAndCheck() async throws {
        try await restore(dueBy: .now + .seconds(86_400))
        for proxy in proxies { proxy.set(.pass) }
        for node in nodes {
            try Self.setClock(node, offsetMillis: 0)
            node.process?.signal(SIGCONT)
        }
        for node in nodes where !node.isRunning { try await node.start() }
        for node in nodes {
            if let ended = try await node.endedByItself() { summary.failures.append("\(node.label) ended by itself: \(ended)") }
        }
        let healed = ContinuousClock.now
        var lists: [String: [AgreementListItem]] = [:]
        var converged = false
        while ContinuousClock.now < healed + .seconds(180) {
            for node in nodes { _ = try await node.ctl(["sync"]) }
            lists = [:]
            for node in nodes { lists[node.label] = try await node.answer(["agreements", "list"]) ?? [] }
            if await isConverged(lists) { converged = true; break }
            try await Task.sleep(for: .seconds(1))
        }
        let elapsed = ContinuousClock.now - healed
        summary.secondsToConverge = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if !converged { summary.failures.append("not converged 180 s after healing: \(await divergence(lists).prefix(5).joined(separator: "; "))") }

        var seenParties: [String: Set<String>] = [:]
        for items in lists.values { for item in items { seenParties[item.id, default: []].formUnion(item.parties) } }
        await ledger.parties(seen: seenParties)
        try await checkAcknowledged(lists)
        try await checkNeedToKnow(lists)
        for node in nodes where !(try await node.ctl(["status"]).succeeded) { summary.failures.append("\(node.label) does not answer") }

        summary.agreements = await ledger.order.count
        summary.acknowledgedChanges = await ledger.acknowledgedCount
        summary.operations = await ledger.operations
        summary.refusedOperations = await ledger.refused
        summary.unreachableOperations = await ledger.unreachable
    }

    /// Every agreement is held by every node of its current parties, with the same terms hash and
    /// number of changes, and by no other node.
    private func isConverged(_ lists: [String: [AgreementListItem]]) async -> Bool {
        await divergence(lists).isEmpty
    }

    /// The parties of each agreement as its parties' nodes see it: the view, among the nodes
    /// whose organisation it lists as a party, with the most changes. (A node whose organisation
    /// withdrew keeps the copy it had up to the withdrawal.)
    private func authoritativeParties(_ lists: [String: [AgreementListItem]]) -> [String: Set<String>] {
        var best: [String: AgreementListItem] = [:]
        for node in nodes {
            for item in lists[node.label] ?? [] where item.parties.contains(node.organisation) {
                if best[item.id].map({ $0.changes < item.changes }) ?? true { best[item.id] = item }
            }
        }
        return best.mapValues { Set($0.parties) }
    }

    private func divergence(_ lists: [String: [AgreementListItem]]) async -> [String] {
        var problems: [String] = []
        let partiesOf = authoritativeParties(lists)
        let held = lists.mapValues { items in Dictionary(items.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first }) }
        for id in await ledger.order {
            // Every party withdrew: nobody is owed anything more of it.
            guard let parties = partiesOf[id] else { continue }
            var versions: Set<String> = []
            for node in nodes {
                let item = held[node.label]?[id]
                if parties.contains(node.organisation) {
                    guard let item else {
                        problems.append("\(id): \(node.label) of party \(node.organisation) does not hold it")
                        continue
                    }
                    versions.insert("\(item.termsHash)/\(item.changes)/\(item.parties.sorted())")
                } else if let item, item.parties.contains(node.organisation) {
                    problems.append("\(id): \(node.label) has not learnt that \(node.organisation) withdrew")
                }
            }
            if versions.count > 1 { problems.append("\(id): \(versions.count) different versions among its parties' nodes") }
        }
        return problems
    }

    /// Every change a node acknowledged is in the history of every party's node, and all of them
    /// hold the same history. The one exception is a change that never left the node that
    /// acknowledged it before that node's disk was deleted: it is counted as lost with the disk.
    private func checkAcknowledged(_ lists: [String: [AgreementListItem]]) async throws {
        let acknowledged = await ledger.acknowledged
        let atRisk = await ledger.atRisk
        let partiesOf = authoritativeParties(lists)
        let held = Set(lists.values.flatMap { $0.map(\.id) })
        let admins = Dictionary(uniqueKeysWithValues: nodes.map { ($0.label, $0.admin()) })
        for id in await ledger.order {
            guard let parties = partiesOf[id] else {
                // Held by nobody: only an agreement whose creation died with a disk may be.
                let changes = acknowledged[id] ?? []
                if held.contains(id) { continue }  // every party withdrew: nobody is owed anything more of it
                if changes.allSatisfy(atRisk.contains) {
                    summary.lostWithDisk += changes.count
                } else {
                    summary.failures.append("\(id): acknowledged, but no node holds it")
                }
                continue
            }
            var histories: [String: Set<String>] = [:]
            for node in nodes where parties.contains(node.organisation) {
                if let history = await history(of: id, at: node, on: admins[node.label]!) { histories[node.label] = history }
            }
            let anywhere = histories.values.reduce(into: Set<String>()) { $0.formUnion($1) }
            let gone = (acknowledged[id] ?? []).filter { !anywhere.contains($0) }
            summary.lostWithDisk += gone.filter(atRisk.contains).count
            if gone.contains(where: { !atRisk.contains($0) }) {
                summary.failures.append("\(id): \(gone.count { !atRisk.contains($0) }) acknowledged change(s) held by no party's node")
            }
            for (label, history) in histories.sorted(by: { $0.key < $1.key }) {
                let missing = (acknowledged[id] ?? []).filter { anywhere.contains($0) && !history.contains($0) }
                if !missing.isEmpty { summary.failures.append("\(label) lacks \(missing.count) acknowledged change(s) of \(id)") }
            }
            if Set(histories.values).count > 1 { summary.failures.append("\(id): different histories on its parties' nodes") }
        }
    }

    /// The change ids of `id`'s history at `node`, read on `admin` (one connection per node:
    /// a long soak checks thousands of agreements); nil (and a failure recorded) if it cannot
    /// show it.
    private func history(of id: String, at node: AccordProcess, on admin: AdminSocketClient) async -> Set<String>? {
        let answer: AdminSocketClient.Response
        do {
            answer = try await admin.get("/v1/agreements/\(id)/history")
        } catch {
            summary.failures.append("\(node.label) cannot show the history of \(id): \(error)")
            return nil
        }
        guard answer.status == 200, let history = try? AdminAPI.decoder().decode([HistoryItem].self, from: Data(answer.body)) else {
            summary.failures.append(
                "\(node.label) cannot show the history of \(id): \(answer.status), \(answer.body.count) bytes \"\(answer.text.prefix(300))\""
            )
            return nil
        }
        return Set(history.map(\.change))
    }

    /// No node of an organisation that was never a party holds any trace of the agreement: not
    /// its id (text or bytes), not its token (in every title and text written to it). The scan
    /// must find every agreement a node lists in that node's bytes, or it is not looking.
    private func checkNeedToKnow(_ lists: [String: [AgreementListItem]]) async throws {
        let agreements = await ledger.agreements
        let scan = TraceScan(agreements: agreements.mapValues(\.token))
        for node in nodes {
            let traces = scan.traces(in: node.allBytes())
            for id in traces.sorted() where agreements[id]?.everParties.contains(node.organisation) == false {
                summary.failures.append("\(node.label) holds a trace of \(id), which \(node.organisation) was never a party to")
            }
            let unseen = (lists[node.label] ?? []).filter { agreements[$0.id] != nil && !traces.contains($0.id) }
            if !unseen.isEmpty {
                summary.failures.append("the need-to-know scan does not see \(unseen.count) agreement(s) \(node.label) lists, e.g. \(unseen[0].id)")
            }
        }
    }

    /// Stops every node with SIGTERM; each must exit 0.
    func tearDown() async throws {
        for node in nodes {
            let termination = node.isRunning ? try await node.stop() : nil
            if termination != .exited(0) { summary.failures.append("\(node.label) did not stop cleanly: \(String(describing: termination))") }
        }
        for proxy in proxies { await proxy.close() }
        diskOfItsOwn?.unmount()
    }

}

/// Numbers for unique titles, shared by the workers.
final class Counters: @unchecked Sendable {
    private let lock = NSLock()
    private var agreements = 0
    private var edits = 0

    func nextAgreement() -> Int { lock.withLock { agreements += 1; return agreements } }
    func nextEdit() -> Int { lock.withLock { edits += 1; return edits } }
}
