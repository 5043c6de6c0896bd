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

    func commitmentExists(_ id: CommitmentID, in past: CausalPast) -> Bool {
        (commitmentCreations[id] ?? []).contains { past.contains($0) }
    }

    mutating func insert(_ change: Change, past: CausalPast) {
        stamps[change.id] = change.stamp
        dependencies[change.id] = change.dependencies
        heads.subtract(change.dependencies)
        heads.insert(change.id)
        for edit in change.edits {
            switch edit {
            case .addParty(let organisation):
                partyAdds[organisation, default: []].append(change.id)
            case .withdrawParty(let organisation):
                let seen = Set((partyAdds[organisation] ?? []).filter { past.contains($0) })
                partyWithdrawals[organisation, default: []].append((change.id, seen))
            case .terminate:
                terminations.append(change.id)
            case .set, .removeCommitment, .approve, .note:
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
