/// `GET /v1/agreements`: one row per agreement this node holds.
public struct AgreementListItem: Codable, Sendable {
    public var id: String
    public var title: String?
    public var category: String?
    public var parties: [String]
    public var status: String
    public var termsHash: String
    public var changes: Int
    public var conflicts: Int
    /// The reference it was imported under (a CRM's record number), if it was imported here.
    public var reference: String?
    public var effectiveFrom: String?
    public var expiresOn: String?
    /// Each party's approval: `approved` (of the current terms), `stale` (of earlier terms) or `none`.
    public var approvals: [String: String]?
    /// When the latest change was made, and by which organisation's node.
    public var lastChange: String?
    public var lastChangeBy: String?
    /// The earliest due date of an open commitment (`YYYY-MM-DD`), and who owes it.
    public var nextDue: String?
    public var nextDueBy: String?
    /// The organisations that owe an open commitment.
    public var owing: [String]?

    public init(id: String, title: String?, category: String?, parties: [String], status: String, termsHash: String, changes: Int, conflicts: Int) {
        self.id = id
        self.title = title
        self.category = category
        self.parties = parties
        self.status = status
        self.termsHash = termsHash
        self.changes = changes
        self.conflicts = conflicts
    }
}

/// `GET /v1/agreements/{id}`: every field, what is derived from them, and delivery to each party.
public struct AgreementView: Codable, Sendable {
    public var id: String
    /// The reference it was imported under (a CRM's record number), if it was imported here.
    public var reference: String?
    public var title: String?
    public var category: String?
    public var parties: [String]
    public var status: String
    /// SHA-256 of the canonical terms (docs/encoding.md): what an approval signs.
    public var termsHash: String
    /// Dimension name → text, for the dimensions that are written.
    public var framework: [String: String]
    public var commitments: [CommitmentView]
    public var effectiveFrom: String?
    public var expiresOn: String?
    public var approvals: [ApprovalView]
    public var notes: [NoteView]
    public var termination: TerminationView?
    /// Days of notice a termination needs (the terms'), if set.
    public var noticePeriod: Int?
    /// The day the agreement ends (`YYYY-MM-DD`): its termination's, or the day every party had
    /// agreed to end it; `status` is `terminating` until then.
    public var terminatesOn: String?
    /// The parties that gave or agreed to the termination.
    public var terminationAgreedBy: [String]?
    /// The creator's void of the draft, if it voided it.
    public var void: TerminationView?
    /// Party → the parties that consented to removing it (it is removed once all others have).
    public var removalConsents: [String: [String]]?
    /// What each party owes in money, per currency (one-offs, and recurring amounts of schedules that end).
    public var totals: [TotalView]?
    public var conflicts: [ConflictView]
    public var changes: Int
    public var heads: [String]
    public var held: [HeldChangeView]
    public var rejected: [RejectedChangeView]
    /// Per party (other than this node's organisation), whether its node has acknowledged this
    /// node's latest change to the agreement.
    public var delivery: [DeliveryView]

    public init(
        id: String, title: String?, category: String?, parties: [String], status: String, termsHash: String,
        framework: [String: String], commitments: [CommitmentView], effectiveFrom: String?, expiresOn: String?,
        approvals: [ApprovalView], notes: [NoteView], termination: TerminationView?, conflicts: [ConflictView], changes: Int,
        heads: [String], held: [HeldChangeView], rejected: [RejectedChangeView], delivery: [DeliveryView]
    ) {
        self.id = id
        self.title = title
        self.category = category
        self.parties = parties
        self.status = status
        self.termsHash = termsHash
        self.framework = framework
        self.commitments = commitments
        self.effectiveFrom = effectiveFrom
        self.expiresOn = expiresOn
        self.approvals = approvals
        self.notes = notes
        self.termination = termination
        self.conflicts = conflicts
        self.changes = changes
        self.heads = heads
        self.held = held
        self.rejected = rejected
        self.delivery = delivery
    }
}

public struct CommitmentView: Codable, Sendable {
    public var id: String
    public var by: String?
    public var kind: String?
    public var description: String?
    public var dueDate: String?
    /// `open`, `claimed`, `fulfilled`, `disputed` or `waived` (of a one-off; a recurring
    /// commitment's are per period).
    public var state: String
    /// `EUR 40000.5`: an ISO 4217 code and an exact decimal (per period when it recurs).
    public var amount: String?
    public var schedule: ScheduleView?
    /// Who moved a one-off to its state, when, and what they said.
    public var progress: ProgressView?
    /// A recurring commitment's periods up to the next one to come, latest last (at most 24).
    public var periods: [ProgressView]?

    public init(id: String, by: String?, kind: String?, description: String?, dueDate: String?, state: String) {
        self.id = id
        self.by = by
        self.kind = kind
        self.description = description
        self.dueDate = dueDate
        self.state = state
    }
}

public struct ScheduleView: Codable, Sendable {
    /// `monthly`, `quarterly` or `yearly`.
    public var every: String
    public var from: String
    public var until: String?

    public init(every: String, from: String, until: String?) {
        self.every = every
        self.from = from
        self.until = until
    }
}

/// Where a commitment or one period of it stands, and the step that put it there.
public struct ProgressView: Codable, Sendable {
    /// The period (`YYYY-MM-DD`) of a recurring commitment.
    public var period: String?
    public var state: String
    /// The step's author node, and the person where it said: "Alice Chen (acme) via acme/node1".
    public var by: String?
    public var at: String?
    /// The claim's note or the dispute's reason.
    public var text: String?

    public init(period: String?, state: String, by: String?, at: String?, text: String?) {
        self.period = period
        self.state = state
        self.by = by
        self.at = at
        self.text = text
    }
}

/// What one party owes in one currency.
public struct TotalView: Codable, Sendable {
    public var party: String
    public var currency: String
    /// An exact decimal.
    public var amount: String

    public init(party: String, currency: String, amount: String) {
        self.party = party
        self.currency = currency
        self.amount = amount
    }
}

public struct ApprovalView: Codable, Sendable {
    public var organisation: String
    /// The node that signed it.
    public var node: String
    public var termsHash: String
    /// True while the approval covers the current terms; false once they changed ("stale").
    public var fresh: Bool
    public var at: String
    /// For people: "Alice Chen (acme) via acme/node1", or the node when it named no one.
    public var by: String
    /// The approver's own passkey signature over it (checked on receipt): "passkey of Alice Chen
    /// (acme), registered 7 Dec 2026, 10:00 UTC"; nil when no person signed it, only the node.
    public var passkey: String?

    public init(organisation: String, node: String, termsHash: String, fresh: Bool, at: String, by: String, passkey: String? = nil) {
        self.organisation = organisation
        self.node = node
        self.by = by
        self.passkey = passkey
        self.termsHash = termsHash
        self.fresh = fresh
        self.at = at
    }
}

public struct NoteView: Codable, Sendable {
    public var author: String
    public var at: String
    public var text: String
    /// For people: "Alice Chen (acme) via acme/node1", or the node when it named no one.
    public var by: String

    public init(author: String, at: String, text: String, by: String) {
        self.author = author
        self.by = by
        self.at = at
        self.text = text
    }
}

public struct TerminationView: Codable, Sendable {
    public var author: String
    public var at: String
    public var reason: String
    /// For people: "Alice Chen (acme) via acme/node1", or the node when it named no one.
    public var by: String
    /// The day it takes effect (after the notice period it was given with); absent for a void.
    public var takesEffectOn: String?

    public init(author: String, at: String, reason: String, by: String, takesEffectOn: String? = nil) {
        self.takesEffectOn = takesEffectOn
        self.author = author
        self.by = by
        self.at = at
        self.reason = reason
    }
}

/// Concurrent writes to one field: the winner counts, the overruled values are kept for people.
public struct ConflictView: Codable, Sendable {
    public struct Write: Codable, Sendable {
        public var value: String
        public var author: String
        public var at: String

        public init(value: String, author: String, at: String) {
            self.value = value
            self.author = author
            self.at = at
        }
    }

    public var field: String
    public var winner: Write
    public var overruled: [Write]

    public init(field: String, winner: Write, overruled: [Write]) {
        self.field = field
        self.winner = winner
        self.overruled = overruled
    }
}

public struct HeldChangeView: Codable, Sendable {
    public var change: String
    public var reason: String

    public init(change: String, reason: String) {
        self.change = change
        self.reason = reason
    }
}

public struct RejectedChangeView: Codable, Sendable {
    public var change: String
    public var code: String
    public var message: String
    public var at: String

    public init(change: String, code: String, message: String, at: String) {
        self.change = change
        self.code = code
        self.message = message
        self.at = at
    }
}

public struct DeliveryView: Codable, Sendable {
    public var organisation: String
    /// The party's node, once this node has met it.
    public var node: String?
    /// Its node acknowledged every change of this agreement in this node's log.
    public var acknowledged: Bool

    public init(organisation: String, node: String?, acknowledged: Bool) {
        self.organisation = organisation
        self.node = node
        self.acknowledged = acknowledged
    }
}

/// `GET /v1/agreements/{id}/history`: accepted changes in the order this node accepted them.
public struct HistoryItem: Codable, Sendable {
    public var sequence: Int64
    public var change: String
    /// The node that signed the change.
    public var author: String
    /// Who made it through that node, as the node signed it; absent if it did not say.
    public var actor: ActorView?
    /// For people to read: "Alice Chen (acme) via acme/node1", or the node alone.
    public var by: String
    public var at: String
    public var acceptedAt: String
    public var edits: [String]

    public init(sequence: Int64, change: String, author: String, actor: ActorView?, by: String, at: String, acceptedAt: String, edits: [String]) {
        self.sequence = sequence
        self.change = change
        self.author = author
        self.actor = actor
        self.by = by
        self.at = at
        self.acceptedAt = acceptedAt
        self.edits = edits
    }
}

/// The person (or local user) a node names as a change's maker.
public struct ActorView: Codable, Sendable, Equatable {
    /// "person" (signed in through the organisation's identity provider), "local-user" (the admin
    /// socket), "break-glass" (a one-time console token).
    public var kind: String
    public var id: String
    public var name: String?
    public var email: String?

    public init(kind: String, id: String, name: String?, email: String?) {
        self.kind = kind
        self.id = id
        self.name = name
        self.email = email
    }
}

/// `GET /v1/conflicts`: open conflicts per agreement.
public struct AgreementConflicts: Codable, Sendable {
    public var agreement: String
    public var title: String?
    public var conflicts: [ConflictView]

    public init(agreement: String, title: String?, conflicts: [ConflictView]) {
        self.agreement = agreement
        self.title = title
        self.conflicts = conflicts
    }
}

/// `GET /v1/agreements/{id}/diff?sinceApproval=ORG` or `?from=N&to=M`: the terms that differ,
/// field by field, between what `ORG` last approved (or the terms after change N) and the current
/// terms (or the terms after change M).
public struct TermsDifferenceView: Codable, Sendable {
    /// One field that differs.
    public struct FieldChange: Codable, Sendable {
        /// `title`, `category`, `parties`, `framework.<dimension>`, `effectiveFrom`, `expiresOn`,
        /// `commitment[ID]` (added or removed), `commitment[ID].<by|kind|description|dueDate>`.
        public var field: String
        public var before: String?
        public var after: String?
        /// The change in words: "the due date of “2,000 GPU hours per month” changed from 2026-12-04 to 2027-01-15".
        public var description: String

        public init(field: String, before: String?, after: String?, description: String) {
            self.field = field
            self.before = before
            self.after = after
            self.description = description
        }
    }

    public var agreement: String
    /// What is compared, in words: "the terms acme approved in change 4 (2026-12-07T10:00:00.000Z)", "after change 2".
    public var from: String
    public var to: String
    public var fromTermsHash: String
    public var toTermsHash: String
    public var changes: [FieldChange]

    public init(agreement: String, from: String, to: String, fromTermsHash: String, toTermsHash: String, changes: [FieldChange]) {
        self.agreement = agreement
        self.from = from
        self.to = to
        self.fromTermsHash = fromTermsHash
        self.toTermsHash = toTermsHash
        self.changes = changes
    }
}
