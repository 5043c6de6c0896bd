import AccordAdminAPI
import ArgumentParser
import Foundation

struct Status: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "This node and each peer: connected, last reconcile, what each side lacks, rejected changes."
    )

    @OptionGroup var connection: Connection

    func execute(_ client: AdminClient, json: Bool) async throws {
        let (status, raw): (NodeStatus, [UInt8]) = try await client.get("/v1/status")
        if json { return Output.json(raw) }
        Output.fields([
            ("node", "\(status.node) (organisation \(status.organisation), accordd \(status.version))"),
            ("listening", status.listen),
            ("up since", "\(Output.when(status.startedAt))"),
            ("agreements", "\(status.agreements)"),
            ("changes", "\(status.changes) accepted, \(status.held) held, \(status.rejected) rejected"),
            ("certificate", status.certificate.map { "expires \(Output.when($0.notAfter)) (\($0.daysLeft) days), sha256 \(Output.short($0.fingerprint))" }),
            ("deadlines", status.commitmentsOverdue.map { overdue in
                "\(overdue) commitment(s) overdue, \(status.agreementsExpiringSoon ?? 0) agreement(s) expiring within 30 days (agreements due)"
            }),
        ] + (status.revocationLists ?? []).map { list in
            let state = list.expired ? "EXPIRED" : "valid"
            return ("revocation list", "\(list.issuer): \(state), next update \(list.nextUpdate.map(Output.when) ?? "none") (\(list.file))")
        })
        for warning in status.warnings { print("warning: \(warning)") }
        print("")
        Peers.render(status.peers)
    }
}

struct Peers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The peer nodes: connection, last contact, reconciliation and delivery state.",
        subcommands: [List.self, Forget.self], defaultSubcommand: List.self
    )

    struct List: ControlCommand {
        static let configuration = CommandConfiguration(abstract: "Every peer node met or configured (the default).")

        @OptionGroup var connection: Connection

        func execute(_ client: AdminClient, json: Bool) async throws {
            let (peers, raw): ([PeerStatus], [UInt8]) = try await client.get("/v1/peers")
            if json { return Output.json(raw) }
            Peers.render(peers)
        }
    }

    struct Forget: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget a peer node that is not connected (say, a retired second node).",
            discussion: "Its counters and delivery cursor are dropped; if it connects again it is met anew."
        )

        @OptionGroup var connection: Connection

        @Argument(help: ArgumentHelp("The node, as `peers` lists it.", valueName: "organisation/name"))
        var node: String

        func validate() throws {
            guard node.split(separator: "/", omittingEmptySubsequences: false).count == 2 else {
                throw ValidationError("\"\(node)\" is not a node (ORGANISATION/NAME)")
            }
        }

        func execute(_ client: AdminClient, json: Bool) async throws {
            let encoded = node.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? node
            let (forgotten, raw): (ForgottenPeer, [UInt8]) = try await client.delete("/v1/peers/\(encoded)")
            if json { return Output.json(raw) }
            print("forgot \(forgotten.node)")
        }
    }

    /// "refused here (inbound, 2m ago): certificate-revoked: …" — why a peer is not connected.
    static func describe(_ problem: ConnectionProblemView) -> String {
        "last problem: \(problem.whose) (\(problem.direction), \(Output.when(problem.at))): \(problem.reason): \(problem.message)"
    }

    static func render(_ peers: [PeerStatus]) {
        guard !peers.isEmpty else { return Swift.print("no peers configured") }
        Output.table(
            ["PEER", "ADDRESS", "STATE", "LAST RECONCILE", "THEY LACK", "WE LACK", "REJECTED"],
            peers.map { peer in
                let state =
                    if let revoked = peer.certificate?.revokedAt {
                        "REVOKED at \(Output.when(revoked)); \(peer.connected ? "connected" : "not connected") (not waited for)"
                    } else if peer.connected {
                        "connected \(peer.direction ?? "") since \(Output.when(peer.connectedSince))\(peer.protocolVersion.map { ", protocol \($0)" } ?? "")"
                    } else {
                        "not connected, last contact \(Output.when(peer.lastContact))\(peer.lastProblem.map { "; \(describe($0))" } ?? "")"
                    }
                let reconcile = peer.lastReconcile.map { "\(Output.when($0.completedAt)), \($0.clean ? "clean" : "\($0.differences) differed")" } ?? "-"
                let weLack = peer.differencesAtLastReconcile.map { $0 == 0 ? "0" : "\($0) agreement(s) differed" } ?? "unknown"
                let rejected = peer.changesRejected == 0 ? "0" : "\(peer.changesRejected), last: \(peer.lastRejection.map { "\($0.code): \($0.message)" } ?? "-")"
                return [
                    peer.node ?? "\(peer.organisation) (not met)", peer.address ?? "-", state, reconcile,
                    "\(peer.changesTheyLack) change(s)", weLack, rejected,
                ]
            }
        )
    }
}

struct Conflicts: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Concurrent edits: for each field, the value that counts and the values it replaced."
    )

    @OptionGroup var connection: Connection

    @Argument(help: ArgumentHelp("Only this agreement.", valueName: "id"))
    var id: String?

    func validate() throws {
        if let id, UUID(uuidString: id) == nil { throw ValidationError("\"\(id)\" is not an agreement id (a UUID)") }
    }

    func execute(_ client: AdminClient, json: Bool) async throws {
        let path = id.map { "/v1/conflicts?agreement=\($0.lowercased())" } ?? "/v1/conflicts"
        let (conflicts, raw): ([AgreementConflicts], [UInt8]) = try await client.get(path)
        if json { return Output.json(raw) }
        guard !conflicts.isEmpty else { return print("no open conflicts") }
        for agreement in conflicts {
            print("\(agreement.agreement)  \(agreement.title ?? "(untitled)")")
            Self.render(agreement.conflicts, indent: "  ")
        }
    }

    static func render(_ conflicts: [ConflictView], indent: String) {
        for conflict in conflicts {
            for loser in conflict.overruled {
                Swift.print("\(indent)\(conflict.field): concurrent edit: \(loser.author)'s value \"\(loser.value)\" replaced by \(conflict.winner.author)'s \"\(conflict.winner.value)\"")
            }
        }
    }
}

struct Sync: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconcile with the connected peers now.",
        discussion: "With --wait, shows progress until every peer (or the one given) has everything this node has and a reconciliation round finds no difference."
    )

    @OptionGroup var connection: Connection

    @Option(name: .long, help: ArgumentHelp("Only the nodes of this organisation.", valueName: "organisation"))
    var peer: String?

    @Flag(name: .long, help: "Wait until in sync, showing progress (for --timeout seconds, default 120).")
    var wait = false

    /// Without --wait, one round with each peer: a minute at most.
    static let roundTimeout: Duration = .seconds(60)

    func execute(_ client: AdminClient, json: Bool) async throws {
        guard wait else {
            let step = client.within(Self.roundTimeout + .seconds(5))
            let (response, raw): (SyncResponse, [UInt8]) = try await step.post("/v1/sync", Self.request(peer, within: Self.roundTimeout))
            return json ? Output.json(raw) : Self.render(response)
        }
        // Everything, the first round included, happens by the deadline: a paused partner makes
        // `sync --wait` fail on time with what it still waits for, not hang.
        let limit = connection.timeout.map { Duration.seconds($0) } ?? .seconds(120)
        let deadline = ContinuousClock.now + limit
        func remaining() -> Duration { max(.milliseconds(100), deadline - .now) }
        let (response, _): (SyncResponse, [UInt8]) = try await client.within(remaining()).post(
            "/v1/sync", Self.request(peer, within: remaining() - .milliseconds(50))
        )
        if !json { Self.render(response) }
        var lastProgress = ""
        while true {
            let (peers, _): ([PeerStatus], [UInt8]) = try await client.within(remaining()).get("/v1/peers")
            let relevant = peers.filter { $0.awaited && (peer == nil || $0.organisation == peer) }
            let waiting = relevant.compactMap(Self.waitingFor)
            let apart = peers.filter { $0.certificate?.revokedAt != nil && (peer == nil || $0.organisation == peer) }
            if waiting.isEmpty {
                if json { return Output.json(Array(try AdminAPI.encoder().encode(relevant))) }
                print("in sync with \(relevant.count) peer(s)")
                for node in apart {
                    print("not waited for: \(node.node ?? node.organisation) (certificate revoked at \(node.certificate?.revokedAt ?? "?"))")
                }
                return
            }
            let progress = waiting.joined(separator: "; ")
            if !json && progress != lastProgress { print("waiting: \(progress)") }
            lastProgress = progress
            guard ContinuousClock.now < deadline else {
                throw CommandFailure(exitCode: CommandFailure.timedOut, message: "not in sync after \(limit.components.seconds)s: \(progress)")
            }
            // A round that found differences is followed by repairs; once they are done, another
            // round has to find nothing before the pair counts as in sync.
            if relevant.contains(where: { $0.connected && $0.lastReconcile?.clean == false && $0.pendingRepairs == 0 && $0.batchesInFlight == 0 }) {
                _ = try await client.within(remaining()).post(
                    "/v1/sync", Self.request(peer, within: remaining() - .milliseconds(50)), as: SyncResponse.self
                )
            }
            try await Task.sleep(for: min(.milliseconds(500), remaining()))
        }
    }

    private static func request(_ peer: String?, within limit: Duration) -> SyncRequest {
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
        return SyncRequest(peer: peer, timeoutSeconds: min(3600, max(0.05, seconds)))
    }

    /// What is still outstanding with `peer`, nil if nothing.
    private static func waitingFor(_ peer: PeerStatus) -> String? {
        let name = peer.node ?? peer.organisation
        guard peer.connected else { return "\(name) not connected" }
        var outstanding: [String] = []
        if peer.changesTheyLack > 0 { outstanding.append("\(peer.changesTheyLack) change(s) to deliver") }
        if peer.batchesInFlight > 0 { outstanding.append("\(peer.batchesInFlight) batch(es) unacknowledged") }
        if peer.pendingRepairs > 0 { outstanding.append("\(peer.pendingRepairs) agreement(s) to repair") }
        if peer.lastReconcile?.clean != true { outstanding.append("reconciling") }
        return outstanding.isEmpty ? nil : "\(name): \(outstanding.joined(separator: ", "))"
    }

    private static func render(_ response: SyncResponse) {
        guard !response.rounds.isEmpty else { return Swift.print("no peer connected") }
        for round in response.rounds {
            if let result = round.result {
                let found = result.clean ? "in sync" : "\(result.differences) agreement(s) differed, \(result.sentWhole) sent whole"
                Swift.print("\(round.node): \(found) (\(String(format: "%.3f", result.durationSeconds)) s)")
            } else {
                Swift.print("\(round.node): failed: \(round.error ?? "unknown error")")
            }
        }
    }
}

struct Metrics: ControlCommand {
    static let configuration = CommandConfiguration(abstract: "The node's metrics in Prometheus text format.")

    @OptionGroup var connection: Connection

    func execute(_ client: AdminClient, json: Bool) async throws {
        print(try await client.text("/metrics"), terminator: "")
    }
}
