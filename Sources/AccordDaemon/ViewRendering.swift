import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore
import AccordSync

/// Renders the model and the store as the admin API shows them (the shapes are AccordAdminAPI's
/// AgreementViews.swift; this file fills them in).
enum Views {
    static func time(_ millis: UInt64) -> String { AdminAPI.timestamp(millis: millis) }

    static func listItem(_ summary: AgreementSummary) -> AgreementListItem {
        var item = AgreementListItem(
            id: summary.id.description, title: summary.title, category: summary.category?.name,
            parties: summary.parties.map(\.rawValue), status: summary.status.rawValue, termsHash: summary.termsHash.hex,
            changes: summary.changeCount, conflicts: summary.conflictCount
        )
        item.effectiveFrom = summary.effectiveFrom?.description
        item.expiresOn = summary.expiresOn?.description
        item.approvals = Dictionary(uniqueKeysWithValues: summary.parties.map { party in
            (party.rawValue, summary.approvals[party].map { $0 ? "approved" : "stale" } ?? "none")
        })
        item.lastChange = summary.lastChangeMillis == 0 ? nil : time(summary.lastChangeMillis)
        item.lastChangeBy = summary.lastChangeBy?.rawValue
        item.nextDue = summary.nextDue?.date.description
        item.nextDueBy = summary.nextDue?.by?.rawValue
        item.owing = summary.owing.map(\.rawValue).sorted()
        return item
    }

    /// - Parameters:
    ///   - attributions: who made the approvals, notes and termination, by change.
    ///   - passkeySignatures: approvers' passkey signatures over the approvals, by change.
    static func agreement(
        _ detail: AgreementDetail, today: CalendarDate, delivery: [DeliveryView], attributions: [ChangeID: Attribution] = [:],
        passkeySignatures: [ChangeID: PasskeySignature] = [:]
    ) -> AgreementView {
        let agreement = detail.agreement
        var framework: [String: String] = [:]
        for (dimension, text) in agreement.framework { framework[dimension.name] = text }
        func progress(_ progress: Progress, period: CalendarDate?) -> ProgressView {
            ProgressView(
                period: period?.description, state: progress.state.name,
                by: progress.write.map { by(attributions[$0.change]?.actor, node: $0.author) }, at: progress.write.map { time($0.stamp.millis) },
                text: progress.text.isEmpty ? nil : progress.text
            )
        }
        var view = AgreementView(
            id: agreement.id.description, title: agreement.title, category: agreement.category?.name,
            parties: agreement.parties.map(\.rawValue), status: agreement.status(on: today).rawValue,
            termsHash: agreement.termsHash.hex, framework: framework,
            commitments: agreement.commitments.map { commitment in
                var view = CommitmentView(
                    id: commitment.id.description, by: commitment.by?.rawValue, kind: commitment.kind?.name,
                    description: commitment.description, dueDate: commitment.dueDate?.description, state: commitment.state.name
                )
                view.amount = commitment.amount?.description
                if let schedule = commitment.schedule {
                    view.schedule = ScheduleView(every: schedule.every.name, from: schedule.from.description, until: schedule.until?.description)
                    let settled = Set(commitment.periods.filter(\.value.isSettled).keys)
                    view.periods = periods(of: schedule, through: today, stepped: Set(commitment.periods.keys), settled: settled).map {
                        progress(commitment.progress(of: $0), period: $0)
                    }
                } else if commitment.progress.write != nil {
                    view.progress = progress(commitment.progress, period: nil)
                }
                return view
            },
            effectiveFrom: agreement.effectiveFrom?.description, expiresOn: agreement.expiresOn?.description,
            approvals: agreement.approvals.sorted { $0.key < $1.key }.map { organisation, status in
                ApprovalView(
                    organisation: organisation.rawValue, node: status.stamp.node.description,
                    termsHash: status.approval.termsHash.hex, fresh: status.isFresh, at: time(status.stamp.millis),
                    by: by(attributions[status.change]?.actor, node: status.stamp.node),
                    passkey: passkey(passkeySignatures[status.change], of: attributions[status.change]?.actor, organisation: organisation)
                )
            },
            notes: agreement.notes.map {
                NoteView(author: $0.author.description, at: time($0.stamp.millis), text: $0.text, by: by(attributions[$0.change]?.actor, node: $0.author))
            },
            termination: agreement.termination.map {
                TerminationView(
                    author: $0.author.description, at: time($0.stamp.millis), reason: $0.reason, by: by(attributions[$0.change]?.actor, node: $0.author),
                    takesEffectOn: agreement.terminatesOn?.description
                )
            },
            conflicts: conflicts(agreement.conflicts), changes: detail.changeCount, heads: detail.heads.map(\.hex),
            held: detail.held.map { HeldChangeView(change: $0.id.hex, reason: $0.reason.description) },
            rejected: detail.rejected.map {
                RejectedChangeView(change: $0.id.hex, code: $0.rejection.code.description, message: $0.rejection.message, at: time($0.rejectedAt))
            },
            delivery: delivery
        )
        view.noticePeriod = agreement.noticeDays
        view.terminatesOn = agreement.terminatesOn?.description
        if agreement.termination != nil { view.terminationAgreedBy = agreement.terminationConsents.keys.sorted().map(\.rawValue) }
        view.void = agreement.void.map {
            TerminationView(author: $0.author.description, at: time($0.stamp.millis), reason: $0.reason, by: by(attributions[$0.change]?.actor, node: $0.author))
        }
        if !agreement.removalConsents.isEmpty {
            view.removalConsents = Dictionary(uniqueKeysWithValues: agreement.removalConsents.map { ($0.key.rawValue, $0.value.sorted().map(\.rawValue)) })
        }
        let totals = agreement.totals.sorted { $0.key < $1.key }.flatMap { party, totals in
            totals.map { TotalView(party: party.rawValue, currency: $0.currency, amount: $0.decimal) }
        }
        if !totals.isEmpty { view.totals = totals }
        return view
    }

    /// The periods of a schedule a person looks at: the first 24 due through `today` still to
    /// settle (those `due` lists), the latest 12 stepped, and the next one to come.
    static func periods(of schedule: Schedule, through today: CalendarDate, stepped: Set<CalendarDate>, settled: Set<CalendarDate>) -> [CalendarDate] {
        let all = schedule.periods()
        let open = all.lazy.filter { $0 <= today && !settled.contains($0) }.prefix(24)
        let next = all.first { $0 > today }.map { [$0] } ?? []
        return Set(Array(open) + stepped.sorted().suffix(12) + next).sorted()
    }

    static func conflicts(_ conflicts: [Agreement.Conflict]) -> [ConflictView] {
        func write(_ write: RegisterWrite<FieldValue>) -> ConflictView.Write {
            ConflictView.Write(value: write.value.description, author: write.author.description, at: time(write.stamp.millis))
        }
        return conflicts.map { ConflictView(field: $0.field.description, winner: write($0.winner), overruled: $0.overruled.map(write)) }
    }

    static func history(_ entry: HistoryEntry) -> HistoryItem {
        let author = entry.change.author
        return HistoryItem(
            sequence: entry.sequence, change: entry.change.id.hex, author: author.description, actor: entry.attribution.map { actor($0.actor) },
            by: by(entry.attribution?.actor, node: author), at: time(entry.change.stamp.millis), acceptedAt: time(entry.acceptedAt),
            edits: entry.change.edits.map(\.description)
        )
    }

    static func actor(_ actor: ActingPerson) -> ActorView {
        let kind =
            switch actor.kind {
            case .person: "person"
            case .localUser: "local-user"
            case .breakGlass: "break-glass"
            }
        return ActorView(kind: kind, id: actor.id, name: actor.name, email: actor.email)
    }

    /// "Alice Chen (acme) via acme/node1"; the node alone when it named no one.
    static func by(_ actor: ActingPerson?, node: NodeID) -> String {
        guard let actor else { return node.description }
        return "\(actor) (\(node.organisation)) via \(node)"
    }

    /// "passkey of Alice Chen (acme), registered …" for an approval its approver's passkey
    /// signed; nil if none did, or the signature names another person than the attribution.
    static func passkey(_ signature: PasskeySignature?, of actor: ActingPerson?, organisation: OrganisationID) -> String? {
        guard let signature else { return nil }
        let person = actor.flatMap { $0.id == signature.person ? "\($0)" : nil } ?? signature.person
        return "passkey of \(person) (\(organisation)), registered \(ReadableTime.moment(time(signature.credential.registeredAt)))"
    }

    static func deadline(_ deadline: Deadline, today: CalendarDate) -> DeadlinesResponse.Deadline {
        DeadlinesResponse.Deadline(
            kind: deadline.kind.rawValue, date: deadline.date.description, daysLeft: DeadlineCalendar.days(from: today, to: deadline.date),
            agreement: deadline.agreement.description, title: deadline.title, commitment: deadline.commitment?.description,
            owner: deadline.owner?.rawValue, description: deadline.description, period: deadline.period?.description,
            state: deadline.kind == .commitment ? deadline.state.name : nil
        )
    }

    static func reconcile(_ round: RoundResult) -> ReconcileSummary {
        ReconcileSummary(
            completedAt: time(round.completedAt), differences: round.differences, sentWhole: round.sentWhole,
            durationSeconds: seconds(round.duration), clean: round.isClean
        )
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
