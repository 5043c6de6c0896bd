import AccordAdminAPI
import AccordModel

/// A request whose edits depend on the agreement as the writer holds it and on who this node is:
/// "fulfilled" is a claim for the party that owes and a confirmation for a party owed; "terminate"
/// gives notice, or agrees to a termination another party gave; "remove a party" consents, or —
/// once every other party has — removes it. Resolved inside the write's own transaction, so the
/// choice is made on the state the change will build on (docs/admin-api.md).
enum EditIntent: Sendable {
    case fulfil(CommitmentID, period: CalendarDate?, text: String)
    case terminate(reason: String)
    case removeParty(OrganisationID)

    func edits(on current: Agreement, as organisation: OrganisationID) throws(AdminFailure) -> [Edit] {
        switch self {
        case .fulfil(let id, let period, let text):
            guard let commitment = current.commitments.first(where: { $0.id == id }) else {
                throw .notFound("commitment \(id) is not part of agreement \(current.id)")
            }
            let step: ProgressStep = commitment.by == organisation ? .claim : .confirm
            return [.progress(id, period: period, step: step, text: text)]
        case .terminate(let reason):
            return current.termination == nil ? [.terminate(reason: reason)] : [.agreeTermination(reason: reason)]
        case .removeParty(let party):
            let others = Set(current.parties).subtracting([party, organisation])
            let consented = current.removalConsents[party] ?? []
            return others.isSubset(of: consented) ? [.removeParty(party)] : [.consentToRemoval(party)]
        }
    }
}
