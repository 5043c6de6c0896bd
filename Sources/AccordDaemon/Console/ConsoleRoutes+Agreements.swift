import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore
import Foundation
import Hummingbird

/// The console's work on agreements: the data of the overview and of the agreement page, and
/// the editors' actions — create, edit a term, add a party, add, edit and remove commitments,
/// resolve a conflict. Each goes through `NodeAdministration`, the operations of the admin API.
extension ConsoleRoutes {
    var organisation: String { administration.configuration.node.organisation.rawValue }

    func addEditingRoutes(_ editing: RouterGroup<AccordRequestContext>) {
        editing.get("agreements/new") { request, context in
            try await show(request, context) { page in
                ConsolePages.newAgreement(organisation: organisation, organisations: knownOrganisations, form: .init(), page)
            }
        }
        editing.post("agreements") { request, context in try await create(request, context) }
        editing.post("agreements/:agreement/notes") { request, context in
            try await act(request, context) { id, form in
                let text = form["text"] ?? ""
                guard !text.isEmpty else { throw AdminFailure.badRequest("a note needs text") }
                _ = try await administration.author(id, [.note(text)], actor: actor(context))
                return "noted"
            }
        }
        editing.post("agreements/:agreement/fields") { request, context in
            try await act(request, context) { id, form in
                _ = try await administration.author(id, [try ConsoleEditing.setField(form)], actor: actor(context))
                return "saved"
            }
        }
        editing.post("agreements/:agreement/parties") { request, context in
            try await act(request, context) { id, form in
                let edit = try EditRequests.party(PartyRequest(action: .add, organisation: form["organisation"] ?? ""))
                _ = try await administration.author(id, [edit], actor: actor(context))
                return "party-added"
            }
        }
        editing.post("agreements/:agreement/commitments") { request, context in
            try await act(request, context) { id, form in
                _ = try await administration.author(id, try ConsoleEditing.commitment(form, id: nil, current: nil), actor: actor(context))
                return "commitment-added"
            }
        }
        editing.post("agreements/:agreement/commitments/:commitment/edit") { request, context in
            try await act(request, context) { id, form in
                let commitment = try context.pathParameter("commitment")
                let current = try await administration.show(id).commitments.first { $0.id == commitment }
                guard current != nil else { throw AdminFailure(.notFound, "unknown-commitment", "the agreement has no commitment \(commitment)") }
                _ = try await administration.author(id, try ConsoleEditing.commitment(form, id: commitment, current: current), actor: actor(context))
                return "commitment-saved"
            }
        }
        let steps: [(CommitmentRequest.Action, String)] = [
            (.claim, "claimed"), (.confirm, "confirmed"), (.dispute, "disputed"), (.waive, "waived"), (.remove, "commitment-removed"),
        ]
        for (action, notice) in steps {
            // The rules decide who may take which step (trust rule 6): a step the page did not
            // offer, crafted by hand, is refused by the node like one from a partner.
            editing.post("agreements/:agreement/commitments/:commitment/\(action.rawValue)") { request, context in
                try await act(request, context) { id, form in
                    let request = CommitmentRequest(
                        action: action, commitment: try context.pathParameter("commitment"),
                        period: form["period"].flatMap { $0.isEmpty ? nil : $0 }, text: form["text"]
                    )
                    _ = try await administration.author(id, try EditRequests.commitment(request).1, actor: actor(context))
                    return notice
                }
            }
        }
        editing.post("agreements/:agreement/parties/:party/remove") { request, context in
            try await act(request, context) { id, _ in
                let party = try EditRequests.organisation(try context.pathParameter("party"), "party")
                _ = try await administration.author(id, AdminRequestDecoding.Decoded(edits: [], intent: .removeParty(party)), actor: actor(context))
                return "removal-consented"
            }
        }
        editing.post("agreements/:agreement/void") { request, context in
            try await act(request, context) { id, form in
                let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespaces)
                _ = try await administration.author(id, [.void(reason: reason.isEmpty ? "created by mistake" : reason)], actor: actor(context))
                return "voided"
            }
        }
        editing.post("agreements/:agreement/conflicts") { request, context in
            try await act(request, context) { id, form in
                guard let field = form["field"], let value = form["value"] else { throw AdminFailure.badRequest("the form names no field or value") }
                _ = try await administration.author(id, try ConsoleEditing.resolve(field: field, value: value), actor: actor(context))
                return "resolved"
            }
        }
    }

    /// `POST /agreements`: the new-agreement form; refused, the form again with what was given.
    private func create(_ request: Request, _ context: AccordRequestContext) async throws -> Response {
        let body = try await request.body(upTo: Self.maximumBodyBytes)
        let form = FormFields.decode(body)
        let parties = FormFields.values(body, named: "party")
        var page = try await self.context(request, context)
        do {
            let edits = try ConsoleEditing.create(form, parties: parties)
            let stored = try await administration.create(edits, allowUnknownParties: false, actor: actor(context))
            return Self.redirect("/agreements/\(stored.agreement)?notice=created")
        } catch {
            let (status, message) = Self.refusal(error)
            page.error = message
            page.errorField = "new"
            let given = ConsolePages.NewAgreementForm(fields: form, parties: Set(parties))
            return Self.page(ConsolePages.newAgreement(organisation: organisation, organisations: knownOrganisations, form: given, page), status: status)
        }
    }

    /// The organisations this node knows — its own and its partners' — sorted, for the forms.
    var knownOrganisations: [String] { administration.knownOrganisations().map(\.rawValue).sorted() }

    // MARK: - Page data

    func overview() async throws -> ConsolePages.Overview {
        let (today, _, deadlines) = try await administration.deadlines(within: 30, overdueOnly: false)
        return ConsolePages.Overview(
            organisation: organisation, agreements: try await administration.list([:]),
            deadlines: deadlines.map { Views.deadline($0, today: today) }, today: today.description
        )
    }

    /// The agreement page of `id`: the view, its history, and what changed since each approval
    /// that covers earlier terms.
    func agreementPageData(_ id: AgreementID) async throws -> ConsolePages.AgreementPage {
        let (view, current) = try await administration.showing(id)
        let entries = try await administration.store.history(of: id)
        let history = AgreementHistory(agreement: id, entries: entries)
        var since: [String: [TermsDifferenceView.FieldChange]] = [:]
        let stale = view.approvals.filter { !$0.fresh }.compactMap { OrganisationID(rawValue: $0.organisation) }
        if !stale.isEmpty {
            for party in stale {
                guard let approved = history.latestApproval(by: party)?.terms else { continue }
                since[party.rawValue] = Views.difference(TermsDifference(from: approved, to: current), older: approved, newer: current)
            }
        }
        let termsHash = HexEncoding.decode(view.termsHash).flatMap { SHA256Digest(bytes: $0) }
        return ConsolePages.AgreementPage(
            view: view, entries: entries, organisation: organisation,
            challenge: termsHash.map { PasskeySignature.challenge(agreement: id, termsHash: $0) } ?? [], sinceApproval: since,
            candidates: knownOrganisations.filter { !view.parties.contains($0) }, today: administration.today.description
        )
    }

    /// The status and words of a refused action.
    static func refusal(_ error: any Error) -> (HTTPResponse.Status, String) {
        switch error {
        case let failure as AdminFailure:
            return (
                failure.status,
                failure.body.code == "terms-changed"
                    ? "Not approved: the terms changed since this page showed them. Read them again below before you approve." : failure.body.message
            )
        case let rejection as ChangeRejection: return (.unprocessableContent, "Refused: \(rejection.message)")
        default: return (.unprocessableContent, "\(error)")
        }
    }
}
