/// `POST /v1/agreements`. The creating node's organisation must be among `parties`.
public struct CreateAgreementRequest: Codable, Sendable {
    public var title: String
    /// `technicalResources`, `fullSupport` or `financialSupport`.
    public var category: String
    public var parties: [String]
    public var framework: [String: String]?
    public var effectiveFrom: String?
    public var expiresOn: String?
    /// Parties this node knows no certificate or peer of are refused as likely misspellings
    /// (`unknown-organisation`) unless this is true: a new partner named on purpose.
    public var allowUnknownParties: Bool?

    public init(
        title: String, category: String, parties: [String], framework: [String: String]? = nil, effectiveFrom: String? = nil,
        expiresOn: String? = nil, allowUnknownParties: Bool? = nil
    ) {
        self.title = title
        self.category = category
        self.parties = parties
        self.framework = framework
        self.effectiveFrom = effectiveFrom
        self.expiresOn = expiresOn
        self.allowUnknownParties = allowUnknownParties
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
        case fulfil
        case waive
        case reopen
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

    public init(action: Action, commitment: String? = nil, by: String? = nil, kind: String? = nil, description: String? = nil, dueDate: String? = nil) {
        self.action = action
        self.commitment = commitment
        self.by = by
        self.kind = kind
        self.description = description
        self.dueDate = dueDate
    }
}

/// `POST /v1/agreements/{id}/approve`: this node's organisation signs the current terms.
public struct ApproveRequest: Codable, Sendable {
    /// The terms hash the operator read; if given and the terms have changed since, nothing is
    /// signed (409), so nobody approves terms they have not seen.
    public var termsHash: String?

    public init(termsHash: String?) { self.termsHash = termsHash }
}

public struct TerminateRequest: Codable, Sendable {
    public var reason: String

    public init(reason: String) { self.reason = reason }
}

public struct NoteRequest: Codable, Sendable {
    public var text: String

    public init(text: String) { self.text = text }
}

/// `POST /v1/agreements/{id}/parties`: add an organisation, or withdraw this node's own.
public struct PartyRequest: Codable, Sendable {
    public enum Action: String, Codable, Sendable {
        case add, withdraw
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
