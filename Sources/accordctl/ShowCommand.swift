import AccordAdminAPI
import ArgumentParser

extension Agreements {
    struct Show: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every field of an agreement, its status, approvals (fresh or stale) and delivery to each party."
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        func execute(_ client: AdminClient, json: Bool) async throws {
            let (view, raw): (AgreementView, [UInt8]) = try await client.get(agreement.path)
            if json { return Output.json(raw) }
            Output.fields([
                ("id", view.id), ("reference", view.reference), ("title", view.title ?? "(untitled)"), ("category", view.category ?? "-"),
                ("status", view.status), ("parties", view.parties.joined(separator: ", ")),
                ("effective from", view.effectiveFrom), ("expires on", view.expiresOn),
                ("terms hash", view.termsHash), ("changes", "\(view.changes)"),
            ])
            if !view.framework.isEmpty {
                print("\nframework:")
                Output.fields(view.framework.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, indent: "  ")
            }
            if !view.commitments.isEmpty {
                print("\ncommitments:")
                Output.table(
                    ["  ID", "BY", "KIND", "STATE", "DUE", "AMOUNT", "DESCRIPTION"],
                    view.commitments.map { commitment -> [String] in
                        let recurs = commitment.schedule != nil
                        let amount = commitment.amount.map { recurs ? "\($0) each" : $0 } ?? "-"
                        let state = recurs ? "recurring" : commitment.state
                        return ["  " + commitment.id, commitment.by ?? "-", commitment.kind ?? "-", state, commitment.dueDate ?? "-", amount, commitment.description ?? ""]
                    }
                )
                for commitment in view.commitments {
                    if let progress = commitment.progress { print("  \(commitment.id): \(Self.progress(progress))") }
                    if let schedule = commitment.schedule {
                        print("  \(commitment.id): \(schedule.every) from \(schedule.from)" + (schedule.until.map { " until \($0)" } ?? ""))
                        for period in commitment.periods ?? [] { print("    \(period.period ?? "?"): \(Self.progress(period))") }
                    }
                }
            }
            if let totals = view.totals {
                print("\ntotals:")
                for total in totals { print("  \(total.party) owes \(total.currency) \(total.amount)") }
            }
            print("\napprovals:")
            let approved = Dictionary(view.approvals.map { ($0.organisation, $0) }, uniquingKeysWith: { first, _ in first })
            for party in view.parties {
                guard let approval = approved[party] else {
                    print("  \(party): not approved")
                    continue
                }
                let freshness = approval.fresh ? "fresh (covers the current terms)" : "STALE (the terms changed since)"
                print("  \(party): \(freshness), by \(approval.by) at \(Output.when(approval.at))")
                print("    signed by a person: \(approval.passkey ?? "no (only the node signed it)")")
            }
            if !view.delivery.isEmpty {
                print("\ndelivery of this node's latest change:")
                for delivery in view.delivery {
                    let state = delivery.node == nil ? "its node has not been met yet" : delivery.acknowledged ? "acknowledged" : "not yet acknowledged"
                    print("  \(delivery.node ?? delivery.organisation): \(state)")
                }
            }
            if !view.notes.isEmpty {
                print("\nnotes:")
                for note in view.notes {
                    // Continuation lines of a note are indented under it, so the next note is not mistaken for its text.
                    print("  \(Output.when(note.at)) \(note.by): \(note.text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n    "))")
                }
            }
            if let termination = view.termination {
                let effect = termination.takesEffectOn.map { ", taking effect \($0)" } ?? ""
                print("\nterminated by \(termination.by) at \(Output.when(termination.at))\(effect): \(termination.reason)")
                if let agreed = view.terminationAgreedBy { print("  given or agreed by: \(agreed.joined(separator: ", "))") }
            } else if let notice = view.noticePeriod {
                print("\nnotice period: \(notice) days")
            }
            if let void = view.void {
                print("\nvoided by \(void.by) at \(Output.when(void.at)): \(void.reason)")
            }
            for (party, consenting) in (view.removalConsents ?? [:]).sorted(by: { $0.key < $1.key }) {
                print("\nremoval of \(party): consented by \(consenting.joined(separator: ", "))")
            }
            if !view.conflicts.isEmpty {
                print("\nconflicts:")
                Conflicts.render(view.conflicts, indent: "  ")
            }
            if !view.held.isEmpty {
                print("\nheld changes:")
                for held in view.held { print("  \(Output.short(held.change)): \(held.reason)") }
            }
            if !view.rejected.isEmpty {
                print("\nrejected changes:")
                for rejected in view.rejected { print("  \(Output.short(rejected.change)): \(rejected.code): \(rejected.message)") }
            }
        }

        /// "claimed by Alice Chen (acme) via acme/node1 at …: delivered".
        static func progress(_ progress: ProgressView) -> String {
            guard let by = progress.by, let at = progress.at else { return progress.state }
            return "\(progress.state) by \(by) at \(Output.when(at))" + (progress.text.map { ": \($0)" } ?? "")
        }
    }
}
