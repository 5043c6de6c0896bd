/// One agreement as `accordctl agreements import` reads it and `export` writes it, as a line of
/// JSON (JSON Lines) or a row of CSV (`AgreementCSV`); docs/import-export.md describes both.
///
/// It holds the terms (what approvals cover) and nothing of the agreement's history: approvals,
/// notes, commitment progress and termination stay with the consortium that made them.
public struct AgreementRecord: Codable, Sendable, Equatable {
    public struct Commitment: Codable, Sendable, Equatable {
        public var by: String
        public var kind: String
        public var description: String
        public var dueDate: String?
        /// `EUR 40000.5`: an ISO 4217 code and an exact decimal (per period when it recurs).
        public var amount: String?
        /// A recurring commitment: `monthly`, `quarterly` or `yearly`, from a date, until one.
        public var every: String?
        public var from: String?
        public var until: String?

        public init(
            by: String, kind: String, description: String, dueDate: String? = nil, amount: String? = nil, every: String? = nil,
            from: String? = nil, until: String? = nil
        ) {
            self.by = by
            self.kind = kind
            self.description = description
            self.dueDate = dueDate
            self.amount = amount
            self.every = every
            self.from = from
            self.until = until
        }
    }

    /// What makes an import idempotent: a record whose reference this node imported before is
    /// not created again. Absent, it is `sha256:` and the hash of the record itself, so the same
    /// file imports once; an export writes the reference the agreement was imported with, or
    /// `accord:ID`.
    public var reference: String?
    public var title: String
    /// `technicalResources`, `fullSupport` or `financialSupport`.
    public var category: String
    public var parties: [String]
    public var effectiveFrom: String?
    public var expiresOn: String?
    /// Framework dimension (`valueAlignment`, `technicalFit`, `serviceCoverage`,
    /// `dataProtection`, `returnMechanism`) → text.
    public var framework: [String: String]?
    public var commitments: [Commitment]?
    /// Days of notice a termination needs.
    public var noticePeriod: Int?

    public init(
        reference: String? = nil, title: String, category: String, parties: [String], effectiveFrom: String? = nil,
        expiresOn: String? = nil, framework: [String: String]? = nil, commitments: [Commitment]? = nil
    ) {
        self.reference = reference
        self.title = title
        self.category = category
        self.parties = parties
        self.effectiveFrom = effectiveFrom
        self.expiresOn = expiresOn
        self.framework = framework
        self.commitments = commitments
    }
}

/// `POST /v1/agreements/import`.
public struct ImportRequest: Codable, Sendable {
    public var agreements: [AgreementRecord]
    /// Check every record and create nothing.
    public var dryRun: Bool?
    /// Create nothing if any record is refused.
    public var allOrNothing: Bool?
    /// Parties this node knows no certificate or peer of are accepted (new partners named on
    /// purpose); without it they are refused as likely misspellings.
    public var allowUnknownParties: Bool?

    /// At most this many records per request (and the request at most `AdminAPI.maximumRequestBytes`).
    public static let maximumAgreements = 10_000

    public init(agreements: [AgreementRecord], dryRun: Bool? = nil, allOrNothing: Bool? = nil, allowUnknownParties: Bool? = nil) {
        self.agreements = agreements
        self.dryRun = dryRun
        self.allOrNothing = allOrNothing
        self.allowUnknownParties = allowUnknownParties
    }
}

/// One result per record, in the request's order.
public struct ImportResponse: Codable, Sendable {
    public enum Outcome: String, Codable, Sendable {
        /// Created now.
        case created
        /// Its reference was imported before (or it is this node's own export of an agreement
        /// it holds, `accord:ID`), with the same terms: nothing was created.
        case present
        /// Its reference names an agreement this node holds whose terms differ from the record:
        /// nothing was created or changed; `error` names the fields and how to change them.
        case differs
        /// Checked and found good (a dry run), or good but not created (another record of an
        /// all-or-nothing request was refused).
        case valid
        case refused
    }

    public struct Result: Codable, Sendable {
        public var reference: String
        public var outcome: Outcome
        public var agreement: String?
        /// Why it was refused, naming the field.
        public var error: ErrorResponse?

        public init(reference: String, outcome: Outcome, agreement: String? = nil, error: ErrorResponse? = nil) {
            self.reference = reference
            self.outcome = outcome
            self.agreement = agreement
            self.error = error
        }
    }

    public var results: [Result]

    public init(results: [Result]) { self.results = results }

    public func count(_ outcome: Outcome) -> Int { results.count { $0.outcome == outcome } }
}
