import AccordCrypto
import AccordAdminAPI
import AccordModel
import AccordStore

/// Turns what a transaction did (`CommitNotice`) into the typed events of the event stream.
/// Pure: the same notice and day give the same events, in the same order (by agreement in the
/// order the transaction changed them, then rejections and holds); ids and times are the hub's.
enum EventDerivation {
    static func events(of notice: CommitNotice, today: CalendarDate) -> [NodeEvent] {
        var events: [NodeEvent] = []
        let byAgreement = Dictionary(grouping: notice.accepted, by: \.agreement)
        for transition in notice.transitions {
            events += agreementEvents(
                transition, changes: byAgreement[transition.agreement] ?? [], attributions: notice.attributions, today: today
            )
        }
        for change in notice.accepted where notice.released.contains(change.id) {
            var event = NodeEvent(type: .changeReleased, agreement: change.agreement.description)
            event.change = change.id.hex
            events.append(event)
        }
        for rejection in notice.rejected {
            var event = NodeEvent(type: .changeRejected, agreement: rejection.agreement.description)
            event.change = rejection.change.hex
            event.rule = rejection.rejection.code.description
            event.message = rejection.rejection.message
            event.peer = rejection.origin?.description
            events.append(event)
        }
        for hold in notice.held {
            var event = NodeEvent(type: .changeHeld, agreement: hold.agreement.description)
            event.change = hold.change.hex
            event.message = hold.reason.description
            events.append(event)
        }
        return events
    }

    /// The events of one agreement's accepted changes in one transaction.
    private static func agreementEvents(
        _ transition: CommitNotice.Transition, changes: [StoredChange], attributions: [ChangeID: Attribution], today: CalendarDate
    ) -> [NodeEvent] {
        let id = transition.agreement.description
        let after = transition.after
        func event(_ kind: NodeEvent.Kind) -> NodeEvent { NodeEvent(type: kind, agreement: id) }
        var events: [NodeEvent] = []

        if transition.before == nil {
            var created = event(.agreementCreated)
            created.title = after.title
            created.organisations = after.parties.map(\.rawValue)
            created.by = changes.first?.author.description
            created.actor = changes.first.flatMap { attributions[$0.id] }.map { Views.actor($0.actor) }
            events.append(created)
        }
        var written: Set<Field> = []
        var changedFields: [String] = []
        var authors: [String] = []
        for change in changes {
            let author = change.author.description
            let actor = attributions[change.id].map { Views.actor($0.actor) }
            if !authors.contains(author) { authors.append(author) }
            /// An event of this change: who made it, through which node.
            func authored(_ kind: NodeEvent.Kind) -> NodeEvent {
                var made = event(kind)
                (made.by, made.actor) = (author, actor)
                return made
            }
            for edit in change.edits {
                switch edit {
                case .set(let field, let value):
                    written.insert(field)
                    if !changedFields.contains(field.description) { changedFields.append(field.description) }
                    if case .commitment(let commitment, .state) = field {
                        var stateChanged = authored(.commitmentStateChanged)
                        stateChanged.commitment = commitment.description
                        stateChanged.state = value.description
                        events.append(stateChanged)
                    }
                case .addParty, .withdrawParty, .removeCommitment:
                    let name = if case .removeCommitment = edit { "commitments" } else { "parties" }
                    if !changedFields.contains(name) { changedFields.append(name) }
                case .approve(let organisation, let termsHash, _):
                    var approval = authored(.approvalGiven)
                    approval.organisation = organisation.rawValue
                    approval.termsHash = termsHash.hex
                    events.append(approval)
                case .note:
                    events.append(authored(.noteAdded))
                case .terminate(let reason):
                    var terminated = authored(.agreementTerminated)
                    terminated.message = reason
                    terminated.date = after.terminatesOn?.description
                    events.append(terminated)
                case .progress(let commitment, let period, let step, let text):
                    var stepped = authored(.commitmentStateChanged)
                    stepped.commitment = commitment.description
                    stepped.period = period?.description
                    stepped.state = step.resultingState.name
                    stepped.message = text.isEmpty ? nil : text
                    events.append(stepped)
                case .agreeTermination:
                    var agreed = authored(.terminationAgreed)
                    agreed.organisation = change.author.organisation.rawValue
                    agreed.date = after.terminatesOn?.description
                    events.append(agreed)
                case .void(let reason):
                    var voided = authored(.agreementVoided)
                    voided.message = reason
                    events.append(voided)
                case .consentToRemoval(let organisation), .removeParty(let organisation):
                    let removed = if case .removeParty = edit { true } else { false }
                    var removal = authored(removed ? .partyRemoved : .partyRemovalConsented)
                    removal.organisation = organisation.rawValue
                    events.append(removal)
                    if removed, !changedFields.contains("parties") { changedFields.append("parties") }
                }
            }
        }
        if !changedFields.isEmpty, transition.before != nil {
            var changed = event(.agreementChanged)
            changed.fields = changedFields
            changed.by = authors.joined(separator: ", ")
            events.append(changed)
        }
        if let before = transition.before, before.termsHash != after.termsHash {
            // An approval was fresh before exactly when it signed the terms as they were.
            let stale = after.approvals.filter { !$0.value.isFresh && $0.value.approval.termsHash == before.termsHash }
            if !stale.isEmpty {
                var staleEvent = event(.approvalsStale)
                staleEvent.organisations = stale.keys.map(\.rawValue).sorted()
                staleEvent.termsHash = after.termsHash.hex
                events.append(staleEvent)
            }
        }
        for conflict in after.conflicts where written.contains(conflict.field) {
            var opened = event(.conflictOpened)
            opened.field = conflict.field.description
            opened.value = conflict.winner.value.description
            opened.overruled = conflict.overruled.map(\.value.description)
            events.append(opened)
        }
        let statusAfter = after.status(on: today)
        let statusBefore = transition.before?.status(on: today)
        if let statusBefore, statusBefore != statusAfter {
            var status = event(.statusChanged)
            status.from = statusBefore.rawValue
            status.to = statusAfter.rawValue
            events.append(status)
        }
        return events
    }
}
