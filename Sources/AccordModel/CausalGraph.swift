/// The accepted changes of one agreement and how they depend on one another, plus the few facts
/// the rules must judge against a change's *causal past* rather than against the present:
/// who was a party, whether the agreement was terminated, which commitments existed.
struct CausalGraph: Sendable {
    private(set) var stamps: [ChangeID: Stamp] = [:]
    private var dependencies: [ChangeID: [ChangeID]] = [:]
    /// Accepted changes no accepted change depends on yet.
    private(set) var heads: Set<ChangeID> = []

    /// Each organisation's add edits.
    private var partyAdds: [OrganisationID: [ChangeID]] = [:]
    /// Each organisation's withdrawals, with the adds each had seen (and so removed).
    private var partyWithdrawals: [OrganisationID: [(change: ChangeID, removedAdds: Set<ChangeID>)]] = [:]
    private var terminations: [ChangeID] = []
    /// Changes that created each commitment (set its party, kind and description).
    private var commitmentCreations: [CommitmentID: [ChangeID]] = [:]
    /// The organisation whose genesis created the agreement.
    private(set) var creator: OrganisationID?
    private var voids: [ChangeID] = []
    /// Each organisation's approvals.
    private var approvals: [OrganisationID: [ChangeID]] = [:]
    /// Consents to removing an organisation: who consented, in which change.
    private var removalConsents: [OrganisationID: [(organisation: OrganisationID, change: ChangeID)]] = [:]
    /// Every write of the fields the rules read (a commitment's party and schedule, the notice period).
    private var ruleInputs: [Field: [RegisterWrite<FieldValue>]] = [:]
    /// Every step of fulfilment, per commitment and period.
    private var progress: [ProgressKey: [RegisterWrite<ProgressStep>]] = [:]

    var count: Int { stamps.count }

    func contains(_ id: ChangeID) -> Bool { stamps[id] != nil }

    /// The causal past of a change with these dependencies (all of which must be accepted).
    func past(of dependencies: [ChangeID]) -> CausalPast {
        if dependencies.count == heads.count, dependencies.allSatisfy(heads.contains) { return .everything }
        var members = Set<ChangeID>()
        var pending = dependencies
        while let next = pending.popLast() {
            guard members.insert(next).inserted else { continue }
            pending.append(contentsOf: self.dependencies[next] ?? [])
        }
        return .only(members)
    }

    /// Whether `organisation` was a party in `past`: some add of it lies in the past and no
    /// withdrawal in the past had seen that add.
    func isParty(_ organisation: OrganisationID, in past: CausalPast) -> Bool {
        let removed = (partyWithdrawals[organisation] ?? [])
            .filter { past.contains($0.change) }
            .reduce(into: Set<ChangeID>()) { $0.formUnion($1.removedAdds) }
        return (partyAdds[organisation] ?? []).contains { past.contains($0) && !removed.contains($0) }
    }

    func isTerminated(in past: CausalPast) -> Bool { terminations.contains { past.contains($0) } }

    /// A void counts only while no party has approved: one made on a past without the approval
    /// an author had not yet seen does not end an agreement a party approved (rule 7).
    func isVoid(in past: CausalPast) -> Bool { voids.contains { past.contains($0) } && !anyApproval(in: past) }

    func hasApproved(_ organisation: OrganisationID, in past: CausalPast) -> Bool {
        (approvals[organisation] ?? []).contains { past.contains($0) }
    }

    func anyApproval(in past: CausalPast) -> Bool { approvals.values.contains { $0.contains { past.contains($0) } } }

    /// The organisations that consented in `past` to removing `organisation`.
    func consentsToRemoving(_ organisation: OrganisationID, in past: CausalPast) -> Set<OrganisationID> {
        Set((removalConsents[organisation] ?? []).filter { past.contains($0.change) }.map(\.organisation))
    }

    /// The organisations that are parties in `past`.
    func parties(in past: CausalPast) -> Set<OrganisationID> {
        Set(partyAdds.keys.filter { isParty($0, in: past) })
    }

    /// The value of a field the rules read, as the author of a change with this past saw it: the
    /// greatest write in the past. (A write's stamp is later than those of the writes it had seen,
    /// so the greatest is always one no other write in the past overruled: the register's winner.)
    func value(of field: Field, in past: CausalPast) -> FieldValue? {
        (ruleInputs[field] ?? []).filter { past.contains($0.change) }.max { $0.order < $1.order }?.value
    }

    /// Where a commitment (or period) stood in `past`, by the same reasoning as `value(of:in:)`
    /// and as the view reads it (`Agreement`): the winning step if its side matches the owing
    /// party of `past`; for a one-off without steps, its version-1 `state` write read by the new
    /// rules; else open.
    func progressState(_ key: ProgressKey, in past: CausalPast) -> CommitmentState {
        var owing: OrganisationID?
        if case .organisation(let organisation)? = value(of: .commitment(key.commitment, .by), in: past) { owing = organisation }
        if let step = (progress[key] ?? []).filter({ past.contains($0.change) }).max(by: { $0.order < $1.order }) {
            return step.value.counts(by: step.author.organisation, owing: owing) ? step.value.resultingState : .open
        }
        guard key.period == nil, let write = (ruleInputs[.commitment(key.commitment, .state)] ?? []).filter({ past.contains($0.change) })
            .max(by: { $0.order < $1.order }), case .commitmentState(let legacy) = write.value
        else { return .open }
        return ProgressStep.legacy(legacy, by: write.author.organisation, owing: owing)?.resultingState ?? .open
    }

    /// The longest notice period ever written in `past`: a party cannot shorten the notice it
    /// gives by first clearing or lowering it (every party agreeing ends it at once anyway).
    func noticeDays(in past: CausalPast) -> Int {
        (ruleInputs[.noticePeriod] ?? []).filter { past.contains($0.change) }.compactMap { write -> Int? in
            if case .days(let days?) = write.value { return days }
            return nil
        }.max() ?? 0
    }

    func commitmentExists(_ id: CommitmentID, in past: CausalPast) -> Bool {
        (commitmentCreations[id] ?? []).contains { past.contains($0) }
    }

    mutating func insert(_ change: Change, past: CausalPast) {
        if change.isGenesis { creator = change.author.organisation }
        stamps[change.id] = change.stamp
        dependencies[change.id] = change.dependencies
        heads.subtract(change.dependencies)
        heads.insert(change.id)
        for edit in change.edits {
            switch edit {
            case .addParty(let organisation):
                partyAdds[organisation, default: []].append(change.id)
            case .withdrawParty(let organisation), .removeParty(let organisation):
                let seen = Set((partyAdds[organisation] ?? []).filter { past.contains($0) })
                partyWithdrawals[organisation, default: []].append((change.id, seen))
            case .terminate:
                terminations.append(change.id)
            case .void:
                voids.append(change.id)
            case .approve(let organisation, _, _):
                approvals[organisation, default: []].append(change.id)
            case .consentToRemoval(let organisation):
                removalConsents[organisation, default: []].append((change.author.organisation, change.id))
            case .set(let field, let value) where field.isRuleInput:
                ruleInputs[field, default: []].append(RegisterWrite(value: value, stamp: change.stamp, change: change.id))
            case .progress(let id, let period, let step, _):
                progress[ProgressKey(commitment: id, period: period), default: []].append(
                    RegisterWrite(value: step, stamp: change.stamp, change: change.id)
                )
            case .set, .removeCommitment, .note, .agreeTermination:
                break
            }
        }
        for id in Self.createdCommitments(by: change) {
            commitmentCreations[id, default: []].append(change.id)
        }
    }

    /// Commitments a change creates: those whose party, kind and description it sets together.
    static func createdCommitments(by change: Change) -> Set<CommitmentID> {
        var attributes: [CommitmentID: Set<CommitmentAttribute>] = [:]
        for case .set(.commitment(let id, let attribute), _) in change.edits {
            attributes[id, default: []].insert(attribute)
        }
        return Set(attributes.filter { $0.value.isSuperset(of: [.by, .kind, .description]) }.keys)
    }
}

extension Field {
    /// Whether the trust rules read this field (from a change's causal past).
    var isRuleInput: Bool {
        switch self {
        case .commitment(_, .by), .commitment(_, .schedule), .commitment(_, .state), .noticePeriod: true
        default: false
        }
    }
}
