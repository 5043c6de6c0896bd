import AccordModel
import HTTPTypes

/// What this node checks of its own people's edits before it signs them, beyond the trust rules
/// every node checks of every change (docs/design.md, "Trust rules"). These are business sense,
/// not trust: two parties' concurrent edits can still produce an inverted term, and a peer's
/// change is never refused for it. But a mistake typed here would go to every partner and could
/// only be corrected by another signed change, so each path that writes — the CLI, the admin
/// API, import and the console — stops it first, with the field and the reason:
///
/// - the term ends on or after it starts (`term-inverted`);
/// - every commitment is owed by a party (`commitment-owner-not-party`);
/// - every party added is an organisation this node knows — its own, a configured peer's, or one
///   it holds a certificate of — unless the request says it is a new partner on purpose
///   (`unknown-organisation`): a misspelt party can never approve, so the agreement could never
///   become active.
///
/// Pure: the state before, the edits and what the node knows go in; a refusal comes out.
struct AuthoringChecks {
    let knownOrganisations: Set<OrganisationID>
    /// The request vouches for parties this node does not know yet.
    let allowUnknownParties: Bool

    /// Checks `edits` as applied to `current` (nil for a new agreement).
    func check(_ edits: [Edit], on current: Agreement?) throws(AdminFailure) {
        var parties = Set(current?.parties ?? [])
        var effectiveFrom = current?.effectiveFrom
        var expiresOn = current?.expiresOn
        var owners: [(CommitmentID, OrganisationID)] = []
        var added: [OrganisationID] = []
        for edit in edits {
            switch edit {
            case .addParty(let organisation):
                parties.insert(organisation)
                added.append(organisation)
            case .withdrawParty(let organisation):
                parties.remove(organisation)
            case .set(.effectiveFrom, .date(let date)):
                effectiveFrom = date
            case .set(.expiresOn, .date(let date)):
                expiresOn = date
            case .set(.commitment(let id, .by), .organisation(let organisation)):
                owners.append((id, organisation))
            default:
                continue
            }
        }
        if !allowUnknownParties {
            for organisation in added where !knownOrganisations.contains(organisation) && current?.parties.contains(organisation) != true {
                throw AdminFailure(
                    .unprocessableContent, "unknown-organisation",
                    "parties: \"\(organisation)\" is not an organisation this node knows (\(knownOrganisations.sorted().map(\.rawValue).joined(separator: ", "))); "
                        + "check the spelling, or say it is a new partner (--allow-unknown-party, \"allowUnknownParties\": true)"
                )
            }
        }
        if let effectiveFrom, let expiresOn, expiresOn < effectiveFrom {
            throw AdminFailure(
                .unprocessableContent, "term-inverted",
                "expiresOn: \(expiresOn) is before effectiveFrom \(effectiveFrom); an agreement cannot end before it starts"
            )
        }
        for (id, owner) in owners where !parties.contains(owner) {
            throw AdminFailure(
                .unprocessableContent, "commitment-owner-not-party",
                "by: \(owner) owes commitment \(id) but is not a party (parties: \(parties.sorted().map(\.rawValue).joined(separator: ", ")))"
            )
        }
    }
}
