public import AccordCrypto

/// What became of a change handed to a replica.
public enum ApplyOutcome: Hashable, Sendable {
    /// Accepted and merged into the state.
    case accepted
    /// Already known: accepted, rejected or held before. Nothing changed.
    case duplicate
    /// Kept aside until it can be judged; see `HoldReason`.
    case held(HoldReason)
    /// Refused for the given rule; recorded so the same change is refused again everywhere.
    case rejected(ChangeRejection)
    /// Not taken now because this replica already holds as many changes as it may; the sender
    /// keeps it and may offer it again. Nothing is recorded.
    case deferred
}

/// Why a change is held instead of judged. A held change is never rejected for being held.
public enum HoldReason: Hashable, Sendable, CustomStringConvertible {
    /// Changes it builds on have not arrived.
    case missingDependencies(Set<ChangeID>)
    /// It is stamped further ahead of this node's clock than the allowed skew.
    case stampedAhead(byMillis: UInt64)

    public var description: String {
        switch self {
        case .missingDependencies(let missing): "waiting for \(missing.count) change(s) it builds on"
        case .stampedAhead(let millis): "stamped \(millis) ms ahead of this node's clock"
        }
    }
}

/// A change that was judged in a call, either the one handed in or one it released.
public struct SettledChange: Hashable, Sendable {
    public enum Verdict: Hashable, Sendable {
        case accepted
        case rejected(ChangeRejection)
    }

    public let change: VerifiedChange
    public let verdict: Verdict
}

/// The result of handing one change to a replica.
public struct IntegrationResult: Hashable, Sendable {
    /// What became of the change handed in.
    public var outcome: ApplyOutcome
    /// Every change accepted or rejected by this call, in the order they were judged: the one
    /// handed in (if judged) and any held changes it released.
    public var settled: [SettledChange]
}

/// A durable log that does not replay to a valid history.
public struct ReplicaRestoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public let change: ChangeID
    public let outcome: ApplyOutcome

    public var description: String {
        "logged change \(change.hex.prefix(12)) does not replay as accepted (\(outcome)); the log is inconsistent"
    }
}

/// Tunables of a replica, all documented in docs/merge-rules.md.
public struct ReplicaConfiguration: Hashable, Sendable {
    /// How far ahead of the local clock a change may be stamped before it is held.
    public var maximumClockSkewMillis: UInt64
    /// How many held changes one agreement may keep; beyond it, changes are deferred.
    public var maximumHeldChanges: Int

    public init(maximumClockSkewMillis: UInt64 = 5 * 60 * 1000, maximumHeldChanges: Int = 10_000) {
        self.maximumClockSkewMillis = maximumClockSkewMillis
        self.maximumHeldChanges = maximumHeldChanges
    }
}

/// One node's copy of one agreement: the accepted history, the state it yields, the changes that
/// were refused, and the changes held until they can be judged.
public struct AgreementReplica: Sendable {
    public let id: AgreementID
    public let configuration: ReplicaConfiguration
    public private(set) var state: AgreementState
    private(set) var graph = CausalGraph()
    /// Rejected change ids and why; a change that depends on one of them is rejected too.
    public private(set) var rejected: [ChangeID: ChangeRejection] = [:]
    /// Held changes and why each is held.
    public private(set) var held: [ChangeID: (change: VerifiedChange, reason: HoldReason)] = [:]
    /// Missing change → held changes waiting for it.
    private var waiters: [ChangeID: Set<ChangeID>] = [:]

    public init(id: AgreementID, configuration: ReplicaConfiguration = ReplicaConfiguration()) {
        self.id = id
        self.configuration = configuration
        self.state = AgreementState(id: id)
    }

    /// Rebuilds a replica from a durable log: the accepted changes in the order they were accepted
    /// (a causal order), the verdicts of rejected changes, and the changes still held.
    ///
    /// Accepted changes go through the same judging as ever, so a log that is not a valid history
    /// (tampered with, or written by a buggy version) is reported instead of silently trusted.
    public static func restoring(
        id: AgreementID, configuration: ReplicaConfiguration,
        accepted: [VerifiedChange], rejected: [ChangeID: ChangeRejection], held: [VerifiedChange]
    ) throws(ReplicaRestoreError) -> AgreementReplica {
        var replica = AgreementReplica(id: id, configuration: configuration)
        replica.rejected = rejected
        for change in accepted {
            var settled: [SettledChange] = []
            let outcome = replica.judge(change, nowMillis: .max, settled: &settled)
            guard outcome == .accepted else { throw ReplicaRestoreError(change: change.id, outcome: outcome) }
        }
        for change in held {
            let missing = Set(change.change.dependencies.filter { !replica.graph.contains($0) })
            replica.hold(change, missing.isEmpty ? .stampedAhead(byMillis: 0) : .missingDependencies(missing))
        }
        return replica
    }

    /// A new change on top of every head of this replica's history, stamped after all of them.
    public func nextChange(_ edits: [Edit], clock: inout HybridLogicalClock, nowMillis: UInt64) throws(ChangeRejection) -> Change {
        guard exists else { throw ChangeRejection(.malformed, "agreement \(id) is not known on this node") }
        for head in graph.heads { if let stamp = graph.stamps[head] { clock.observe(stamp) } }
        return try Change(agreement: id, stamp: clock.stamp(physicalMillis: nowMillis), dependencies: heads, edits: edits)
    }

    /// True once the genesis change has been accepted.
    public var exists: Bool { graph.count > 0 }
    public var agreement: Agreement { Agreement(state) }
    /// The ids of the history's current heads, ascending: what a new local change depends on.
    public var heads: [ChangeID] { graph.heads.sorted() }

    /// The stamp of the latest accepted change: every change's stamp is after those of the
    /// changes it depends on, so it is among the heads'.
    public var latestStamp: Stamp? { graph.heads.compactMap { graph.stamps[$0] }.max() }
    public var acceptedCount: Int { graph.count }

    public func isAccepted(_ id: ChangeID) -> Bool { graph.contains(id) }
    public func stamp(of id: ChangeID) -> Stamp? { graph.stamps[id] }

    /// Judges `change` (and whatever it releases) at local time `nowMillis`.
    public mutating func apply(_ change: VerifiedChange, nowMillis: UInt64) -> IntegrationResult {
        precondition(change.change.agreement == id, "\(change) routed to agreement \(id)")
        if graph.contains(change.id) || rejected[change.id] != nil || held[change.id] != nil {
            return IntegrationResult(outcome: .duplicate, settled: [])
        }
        var settled: [SettledChange] = []
        let outcome = judge(change, nowMillis: nowMillis, settled: &settled)
        if case .held = outcome, held.count >= configuration.maximumHeldChanges {
            return IntegrationResult(outcome: .deferred, settled: settled)
        }
        if case .held(let reason) = outcome { hold(change, reason) }
        return IntegrationResult(outcome: outcome, settled: settled)
    }

    /// Re-judges changes held for clock skew, now that the local clock reads `nowMillis`.
    public mutating func releaseHeld(nowMillis: UInt64) -> [SettledChange] {
        var settled: [SettledChange] = []
        let ready = held.values.filter {
            if case .stampedAhead = $0.reason { return true }
            return false
        }.map(\.change).sorted { $0.change.stamp < $1.change.stamp }
        for change in ready {
            held[change.id] = nil
            if case .held(let reason) = judge(change, nowMillis: nowMillis, settled: &settled) { hold(change, reason) }
        }
        return settled
    }

    private mutating func hold(_ change: VerifiedChange, _ reason: HoldReason) {
        held[change.id] = (change, reason)
        if case .missingDependencies(let missing) = reason {
            for dependency in missing { waiters[dependency, default: []].insert(change.id) }
        }
    }

    /// Judges one change, then every held change its verdict unblocks.
    private mutating func judge(_ change: VerifiedChange, nowMillis: UInt64, settled: inout [SettledChange]) -> ApplyOutcome {
        let outcome = verdict(for: change, nowMillis: nowMillis)
        switch outcome {
        case .accepted: settled.append(SettledChange(change: change, verdict: .accepted))
        case .rejected(let rejection): settled.append(SettledChange(change: change, verdict: .rejected(rejection)))
        case .held, .duplicate, .deferred: return outcome
        }
        var unblocked = [change.id]
        while let id = unblocked.popLast() {
            for waiterID in (waiters.removeValue(forKey: id) ?? []).sorted() {
                guard let waiter = held.removeValue(forKey: waiterID) else { continue }
                switch verdict(for: waiter.change, nowMillis: nowMillis) {
                case .accepted:
                    settled.append(SettledChange(change: waiter.change, verdict: .accepted))
                    unblocked.append(waiterID)
                case .rejected(let rejection):
                    settled.append(SettledChange(change: waiter.change, verdict: .rejected(rejection)))
                    unblocked.append(waiterID)
                case .held(let reason):
                    hold(waiter.change, reason)
                case .duplicate, .deferred:
                    break
                }
            }
        }
        return outcome
    }

    /// Decides one change whose turn has come, and records the decision.
    private mutating func verdict(for verified: VerifiedChange, nowMillis: UInt64) -> ApplyOutcome {
        let change = verified.change
        if let rejectedDependency = change.dependencies.first(where: { rejected[$0] != nil }) {
            return reject(change, ChangeRejection(
                .dependsOnRejectedChange,
                "\(change) is refused: it builds on change \(rejectedDependency.hex.prefix(12)), which was refused"
            ))
        }
        let missing = Set(change.dependencies.filter { !graph.contains($0) })
        guard missing.isEmpty else { return .held(.missingDependencies(missing)) }
        if let latest = change.dependencies.compactMap({ graph.stamps[$0] }).max(), !change.stamp.isLogicallyAfter(latest) {
            return reject(change, ChangeRejection(
                .stampNotAfterDependencies,
                "\(change) is refused: its stamp \(change.stamp) is not later than that of a change it builds on (\(latest))"
            ))
        }
        let (limit, overflow) = nowMillis.addingReportingOverflow(configuration.maximumClockSkewMillis)
        if !overflow, change.stamp.millis > limit {
            return .held(.stampedAhead(byMillis: change.stamp.millis - nowMillis))
        }
        let past = graph.past(of: change.dependencies)
        do {
            try Rules.check(change, past: past, graph: graph)
        } catch {
            return reject(change, error)
        }
        let noticeDays = graph.noticeDays(in: past)
        graph.insert(change, past: past)
        state.integrate(change, past: past, noticeDays: noticeDays)
        return .accepted
    }

    private mutating func reject(_ change: Change, _ rejection: ChangeRejection) -> ApplyOutcome {
        rejected[change.id] = rejection
        return .rejected(rejection)
    }
}
