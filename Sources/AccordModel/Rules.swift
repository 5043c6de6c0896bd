/// The trust model's rules (docs/design.md, "Trust rules" 3 and 4), judged for one change against its causal past.
///
/// Every input here is a property of the change and of the changes it depends on, never of what
/// else the judging node happens to hold, so every node reaches the same verdict.
enum Rules {
    static let minimumParties = 2

    static func check(_ change: Change, past: CausalPast, graph: CausalGraph) throws(ChangeRejection) {
        let organisation = change.author.organisation
        if change.isGenesis {
            try checkGenesis(change)
        } else {
            guard graph.isParty(organisation, in: past) else {
                throw ChangeRejection(
                    .authorNotParty,
                    "\(change) is refused: \(organisation) was not a party to the agreement in the history its author had seen"
                )
            }
            if graph.isTerminated(in: past), change.edits.contains(where: { !$0.isNote }) {
                throw ChangeRejection(
                    .editAfterTermination,
                    "\(change) is refused: its author had seen the termination; after it only notes may be added"
                )
            }
        }
        for edit in change.edits {
            switch edit {
            case .approve(let approver, _, _) where approver != organisation:
                throw ChangeRejection(
                    .approvalForAnotherOrganisation,
                    "\(change) is refused: \(organisation) may approve only for itself, not for \(approver)"
                )
            case .withdrawParty(let party) where party != organisation:
                throw ChangeRejection(
                    .withdrawalOfAnotherParty,
                    "\(change) is refused: \(organisation) may withdraw only itself, not \(party)"
                )
            default:
                continue
            }
        }
        let created = CausalGraph.createdCommitments(by: change)
        for case .set(.commitment(let id, _), _) in change.edits where !created.contains(id) {
            guard graph.commitmentExists(id, in: past) else {
                throw ChangeRejection(
                    .unknownCommitment,
                    "\(change) edits commitment \(id), which its author had not seen created; "
                        + "a new commitment must set its party, kind and description together"
                )
            }
        }
    }

    private static func checkGenesis(_ change: Change) throws(ChangeRejection) {
        let parties = Set(change.edits.compactMap { edit -> OrganisationID? in
            if case .addParty(let organisation) = edit { return organisation }
            return nil
        })
        guard parties.contains(change.author.organisation) else {
            throw ChangeRejection(
                .creatorNotParty,
                "\(change) creates an agreement without its creator \(change.author.organisation) among the parties"
            )
        }
        guard parties.count >= minimumParties else {
            throw ChangeRejection(
                .tooFewParties,
                "\(change) creates an agreement with \(parties.count) party; an agreement binds at least \(minimumParties)"
            )
        }
    }
}

extension Edit {
    var isNote: Bool {
        if case .note = self { return true }
        return false
    }
}
