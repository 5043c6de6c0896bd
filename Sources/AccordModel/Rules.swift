/// The trust model's rules (docs/design.md, "Trust rules" 3, 4 and 6–9), judged for one change against its causal past.
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
            if graph.isVoid(in: past), change.edits.contains(where: { !$0.isNote }) {
                throw ChangeRejection(
                    .editAfterVoid,
                    "\(change) is refused: its author had seen the agreement voided; after it only notes may be added"
                )
            }
            if graph.isTerminated(in: past), change.edits.contains(where: { !$0.isAllowedAfterTermination }) {
                throw ChangeRejection(
                    .editAfterTermination,
                    "\(change) is refused: its author had seen the termination; after it only notes, steps of fulfilment "
                        + "and agreements to the termination may be added"
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
            case .progress(let id, let period, let step, _):
                try checkProgress(change, commitment: id, period: period, step: step, past: past, graph: graph)
            case .void:
                try checkVoid(change, past: past, graph: graph)
            case .consentToRemoval(let party):
                try checkRemoval(change, of: party, removing: false, past: past, graph: graph)
            case .removeParty(let party):
                try checkRemoval(change, of: party, removing: true, past: past, graph: graph)
            case .agreeTermination where !graph.isTerminated(in: past):
                throw ChangeRejection(
                    .noTerminationToAgree,
                    "\(change) is refused: it agrees to a termination its author had not seen; to end the agreement, terminate it"
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

    /// Rule 6: the owing party claims; a party owed confirms or disputes a claim it has seen, or
    /// waives; each period of a recurring commitment on its own.
    private static func checkProgress(
        _ change: Change, commitment id: CommitmentID, period: CalendarDate?, step: ProgressStep, past: CausalPast, graph: CausalGraph
    ) throws(ChangeRejection) {
        guard graph.commitmentExists(id, in: past) else {
            throw ChangeRejection(.unknownCommitment, "\(change) records progress of commitment \(id), which its author had not seen created")
        }
        let author = change.author.organisation
        guard case .organisation(let owing)? = graph.value(of: .commitment(id, .by), in: past) else {
            throw ChangeRejection(.unknownCommitment, "\(change) records progress of commitment \(id), which names no owing party")
        }
        if step == .claim, author != owing {
            throw ChangeRejection(
                .progressByWrongParty, "\(change) is refused: only \(owing), the party that owes commitment \(id), claims its fulfilment"
            )
        }
        if step != .claim, author == owing {
            throw ChangeRejection(
                .progressByWrongParty,
                "\(change) is refused: \(owing) owes commitment \(id) and so cannot \(step.name) it; only a party owed may"
            )
        }
        var schedule: Schedule?
        if case .schedule(let written)? = graph.value(of: .commitment(id, .schedule), in: past) { schedule = written }
        switch (schedule, period) {
        case (nil, nil):
            break
        case (nil, let period?):
            throw ChangeRejection(.unknownPeriod, "\(change) names period \(period) of commitment \(id), which does not recur")
        case (let schedule?, nil):
            throw ChangeRejection(.unknownPeriod, "\(change) names no period of commitment \(id), which recurs \(schedule)")
        case (let schedule?, let period?) where !schedule.hasPeriod(period):
            throw ChangeRejection(.unknownPeriod, "\(change) names \(period), which is not a period of commitment \(id) (\(schedule))")
        default:
            break
        }
        let state = graph.progressState(ProgressKey(commitment: id, period: period), in: past)
        let allowed: Bool =
            switch step {
            case .claim: state != .fulfilled && state != .waived
            case .confirm, .dispute: state == .claimed
            case .waive: state != .fulfilled && state != .waived
            }
        guard allowed else {
            throw ChangeRejection(
                .progressOutOfOrder,
                "\(change) is refused: it would \(step.name) commitment \(id)" + (period.map { " for \($0)" } ?? "")
                    + ", which its author saw \(state.name)"
                    + (step == .confirm || step == .dispute ? "; only a claim is confirmed or disputed" : "")
            )
        }
    }

    /// Rule 7: the creator's organisation voids a draft, and only before any party approved.
    private static func checkVoid(_ change: Change, past: CausalPast, graph: CausalGraph) throws(ChangeRejection) {
        guard change.author.organisation == graph.creator else {
            throw ChangeRejection(
                .voidRefused, "\(change) is refused: only \(graph.creator?.rawValue ?? "the creator"), which created the agreement, may void it"
            )
        }
        guard !graph.anyApproval(in: past) else {
            throw ChangeRejection(.voidRefused, "\(change) is refused: a party had approved the agreement; terminate it instead")
        }
    }

    /// Rule 8: a party that never approved is removed with every other party's consent, leaving
    /// at least two.
    private static func checkRemoval(
        _ change: Change, of party: OrganisationID, removing: Bool, past: CausalPast, graph: CausalGraph
    ) throws(ChangeRejection) {
        let author = change.author.organisation
        guard party != author else {
            throw ChangeRejection(.removalRefused, "\(change) is refused: \(author) cannot remove itself; it may withdraw")
        }
        guard graph.isParty(party, in: past) else {
            throw ChangeRejection(.removalRefused, "\(change) is refused: \(party) was not a party in the history its author had seen")
        }
        guard !graph.hasApproved(party, in: past) else {
            throw ChangeRejection(
                .removalRefused, "\(change) is refused: \(party) has approved the agreement; only a party that never approved can be removed"
            )
        }
        guard removing else { return }
        let parties = graph.parties(in: past)
        // Every party this change removes or withdraws counts, not only this one.
        let leaving = Set(change.edits.compactMap { edit -> OrganisationID? in
            switch edit {
            case .removeParty(let organisation), .withdrawParty(let organisation): organisation
            default: nil
            }
        })
        let remaining = parties.subtracting(leaving).count
        guard remaining >= minimumParties else {
            throw ChangeRejection(
                .removalRefused, "\(change) is refused: removing \(party) would leave \(remaining) party; void the draft instead"
            )
        }
        let consenting = graph.consentsToRemoving(party, in: past).union([author])
        let missing = parties.subtracting([party]).subtracting(consenting).sorted()
        guard missing.isEmpty else {
            throw ChangeRejection(
                .removalWithoutConsent,
                "\(change) is refused: removing \(party) needs the consent of every other party; "
                    + "\(missing.map(\.rawValue).joined(separator: ", ")) had not consented in the history its author had seen"
            )
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

    /// Notes, steps of fulfilment (obligations outlive a notice) and agreements to a termination.
    var isAllowedAfterTermination: Bool {
        switch self {
        case .note, .progress, .agreeTermination: true
        default: false
        }
    }
}
