/// `POST /v1/agreements`. The creating node's organisation must be among `parties`.
public struct CreateAgreementRequest: Codable, Sendable {
    public var title: String
    /// `technicalResources`, `fullSupport` or `financialSupport`.
    public var category: String
    public var parties: [String]
    public var framework: [String: String]?
    public var effectiveFrom: String?
    public var expiresOn: String?
    /// Days of notice a party's termination needs before it takes effect.
    public var noticePeriod: String?
    /// Parties this node knows no certificate or peer of are refused as likely misspellings
    /// (`unknown-organisation`) unless this is true: a new partner named on purpose.
    public var allowUnknownParties: Bool?

    public init(
        title: String, category: String, parties: [String], framework: [String: String]? = nil, effectiveFrom: String? = nil,
        expiresOn: String? = nil, allowUnknownParties: Bool? = nil, noticePeriod: String? = nil
    ) {
        self.title = title
        self.category = category
        self.parties = parties
        self.framework = framework
        self.effectiveFrom = effectiveFrom
        self.expiresOn = expiresOn
        self.allowUnknownParties = allowUnknownParties
        self.noticePeriod = noticePeriod
    }
}

/// `POST /v1/agreements/bulk`: many new agreements in one request, each its own signed change,
/// all made durable by one commit.
public struct BulkCreateRequest: Codable, Sendable {
    /// At most `maximumAgreements` (and the request at most `AdminAPI.maximumRequestBytes`).
    public var agreements: [CreateAgreementRequest]

    public static let maximumAgreements = 10_000

    public init(agreements: [CreateAgreementRequest]) { self.agreements = agreements }
}

/// One entry per requested agreement, in the request's order: created, or why not.
public struct BulkCreateResponse: Codable, Sendable {
    public var results: [BulkCreateResult]
    public var created: Int

    public init(results: [BulkCreateResult]) {
        self.results = results
        created = results.filter { $0.error == nil }.count
    }
}

public struct BulkCreateResult: Codable, Sendable {
    public var created: CreatedAgreement?
    public var error: ErrorResponse?

    public init(created: CreatedAgreement?, error: ErrorResponse?) {
        self.created = created
        self.error = error
    }
}

/// `POST /v1/agreements/{id}/fields`: one field, by name (`title`, `category`,
/// `framework.<dimension>`, `effectiveFrom`, `expiresOn`); an empty value clears a date.
public struct SetFieldRequest: Codable, Sendable {
    public var field: String
    public var value: String

    public init(field: String, value: String) {
        self.field = field
        self.value = value
    }
}

/// `POST /v1/agreements/{id}/commitments`.
public struct CommitmentRequest: Codable, Sendable {
    public enum Action: String, Codable, Sendable, CaseIterable {
        /// A new commitment: `by`, `kind` and `description` are required.
        case add
        /// Rewrites the given attributes of `commitment`.
        case update
        /// The owing party says it is fulfilled (`text`: a note).
        case claim
        /// A party owed confirms a claim.
        case confirm
        /// A party owed disputes a claim (`text`: the reason, required); it is open again.
        case dispute
        /// A party owed releases the owing party from it.
        case waive
        /// `claim` for the party that owes it, `confirm` for a party owed.
        case fulfil
        case remove
    }

    public var action: Action
    /// The commitment's id; nil only for `add`.
    public var commitment: String?
    public var by: String?
    public var kind: String?
    public var description: String?
    /// `YYYY-MM-DD`; empty clears it.
    public var dueDate: String?
    /// `EUR 40000.50` (an ISO 4217 code and an exact decimal); empty clears it.
    public var amount: String?
    /// `monthly`, `quarterly` or `yearly` with `from` (and optionally `until`), or `none` to
    /// make it a one-off again.
    public var every: String?
    public var from: String?
    public var until: String?
    /// For the steps of a recurring commitment: the period (`YYYY-MM-DD`, as `due` lists it).
    public var period: String?
    /// A claim's note or a dispute's reason.
    public var text: String?

    public init(
        action: Action, commitment: String? = nil, by: String? = nil, kind: String? = nil, description: String? = nil, dueDate: String? = nil,
        amount: String? = nil, every: String? = nil, from: String? = nil, until: String? = nil, period: String? = nil, text: String? = nil
    ) {
        self.action = action
        self.commitment = commitment
        self.by = by
        self.kind = kind
        self.description = description
        self.dueDate = dueDate
        self.amount = amount
        self.every = every
        self.from = from
        self.until = until
        self.period = period
        self.text = text
    }
}

/// `POST /v1/agreements/{id}/approve`: this node's organisation signs the current terms.
public struct ApproveRequest: Codable, Sendable {
    /// The terms hash the operator read; if given and the terms have changed since, nothing is
    /// signed (409), so nobody approves terms they have not seen.
    public var termsHash: String?

    public init(termsHash: String?) { self.termsHash = termsHash }
}

/// `POST /v1/agreements/{id}/terminate`: give notice (it takes effect after the terms' notice
/// period), or, once another party has, agree to end it (when every party has, it ends at once).
public struct TerminateRequest: Codable, Sendable {
    public var reason: String

    public init(reason: String) { self.reason = reason }
}

/// `POST /v1/agreements/{id}/void`: the creator voids a draft nobody approved.
public struct VoidRequest: Codable, Sendable {
    public var reason: String

    public init(reason: String) { self.reason = reason }
}

public struct NoteRequest: Codable, Sendable {
    public var text: String

    public init(text: String) { self.text = text }
}

/// `POST /v1/agreements/{id}/parties`: add an organisation, withdraw this node's own, or remove
/// one that never approved (this consents; the last party to consent removes it).
public struct PartyRequest: Codable, Sendable {
    public enum Action: String, Codable, Sendable {
        case add, withdraw, remove
    }

    public var action: Action
    public var organisation: String
    /// For `add`: the organisation is a new partner this node knows no certificate or peer of
    /// yet (without it such a party is refused as a likely misspelling).
    public var allowUnknownParty: Bool?

    public init(action: Action, organisation: String, allowUnknownParty: Bool? = nil) {
        self.action = action
        self.organisation = organisation
        self.allowUnknownParty = allowUnknownParty
    }
}

/// The answer to every edit: the change this node signed and committed (durable on return).
public struct ChangeReceipt: Codable, Sendable {
    public var agreement: String
    public var change: String
    public var sequence: Int64
    /// For `commitments` with `add`: the new commitment's id.
    public var commitment: String?

    public init(agreement: String, change: String, sequence: Int64, commitment: String? = nil) {
        self.agreement = agreement
        self.change = change
        self.sequence = sequence
        self.commitment = commitment
    }
}

/// The answer to `POST /v1/agreements`.
public struct CreatedAgreement: Codable, Sendable {
    public var id: String
    public var change: String
    public var sequence: Int64

    public init(id: String, change: String, sequence: Int64) {
        self.id = id
        self.change = change
        self.sequence = sequence
    }
}
