public import AccordCrypto
public import AccordModel

/// How a node store is set up.
public struct StoreConfiguration: Sendable {
    /// How hard a commit waits for the disk.
    public enum Durability: String, Sendable {
        /// `synchronous=FULL`: a commit is on stable storage when `apply` returns. Survives power
        /// loss. The default, and the only setting under which acknowledgements are promises.
        case full
        /// `synchronous=NORMAL` in WAL mode: survives a crash of the process (kill -9), but the
        /// last commits before a power loss can be lost. Faster; never acknowledge to peers with it.
        case processCrashSafe
    }

    /// The node's data directory; the database is `accord.sqlite` inside it.
    public var directory: String
    /// The node this store belongs to; a data directory never changes hands.
    public var node: NodeID
    public var replica: ReplicaConfiguration
    public var durability: Durability
    /// How many agreements' replicas are kept decoded in memory (the rest are read back on demand).
    public var cachedAgreements: Int
    /// Runs `PRAGMA quick_check` when opening, so damage is reported before anything is written.
    public var checkIntegrityOnOpen: Bool

    public init(
        directory: String, node: NodeID, replica: ReplicaConfiguration = ReplicaConfiguration(),
        durability: Durability = .full, cachedAgreements: Int = 1024, checkIntegrityOnOpen: Bool = true
    ) {
        self.directory = directory
        self.node = node
        self.replica = replica
        self.durability = durability
        self.cachedAgreements = cachedAgreements
        self.checkIntegrityOnOpen = checkIntegrityOnOpen
    }

    public var databasePath: String { directory + "/accord.sqlite" }
}

/// A change in the durable log with its local sequence number (the order it was accepted here).
public struct StoredChange: Hashable, Sendable {
    public let sequence: Int64
    public let change: VerifiedChange

    package init(sequence: Int64, change: VerifiedChange) {
        self.sequence = sequence
        self.change = change
    }

    public var id: ChangeID { change.id }
    public var agreement: AgreementID { change.change.agreement }
    public var author: NodeID { change.change.author }
    public var edits: [Edit] { change.change.edits }
    public var dependencies: [ChangeID] { change.change.dependencies }
    public var stamp: Stamp { change.change.stamp }
    /// The signed bytes, as they travel and rest.
    public var encoded: [UInt8] { change.signed.encoded }
}

/// What one `apply` did, once it is durable.
public struct ApplyReport: Sendable {
    /// The outcome for each change handed in, in the order given.
    public var outcomes: [ApplyOutcome]
    /// Every change that became accepted, including held changes the batch released, in the order
    /// they were accepted.
    public var accepted: [StoredChange]
    /// Every change that was rejected (handed in or released), with the rule it broke.
    public var rejected: [(change: VerifiedChange, rejection: ChangeRejection)]
    /// Changes refused for how they arrived rather than for what they are (a delivery by a
    /// non-party): not recorded by id, so the same change from a party is still accepted.
    public var refused: [(change: VerifiedChange, rejection: ChangeRejection)] = []

    /// Every rejection of this report, recorded or not.
    public var allRejections: [ChangeRejection] { rejected.map(\.rejection) + refused.map(\.rejection) }
}

/// Where a change stands in a store.
public enum StoredVerdict: String, Sendable {
    case accepted, rejected, held
}

/// One row of an agreement listing.
public struct AgreementSummary: Hashable, Sendable {
    public let id: AgreementID
    public let title: String?
    public let category: Category?
    public let parties: [OrganisationID]
    public let status: AgreementStatus
    public let termsHash: SHA256Digest
    public let changeCount: Int
    public let conflictCount: Int
    public var effectiveFrom: CalendarDate? = nil
    public var expiresOn: CalendarDate? = nil
    /// Each party that approved, and whether its approval covers the current terms.
    public var approvals: [OrganisationID: Bool] = [:]
    /// When the latest change was made (its stamp, Unix ms).
    public var lastChangeMillis: UInt64 = 0
    /// The organisation whose node made the latest change.
    public var lastChangeBy: OrganisationID? = nil
    /// The earliest due date of an open commitment, and whose it is.
    public var nextDue: NextDue? = nil
    /// The organisations that owe an open commitment.
    public var owing: Set<OrganisationID> = []
}

/// An open commitment's due date, and who owes it.
public struct NextDue: Hashable, Sendable {
    public let date: CalendarDate
    public let by: OrganisationID?
}

/// The columns of an agreement's row that lists show (`AgreementSummary`).
enum AgreementOverview {
    /// "acme\tfresh\nglobex\tstale": each party's approval, as the row keeps it.
    static func approvers(_ agreement: Agreement) -> String {
        agreement.approvals.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)\t\($0.value.isFresh ? "fresh" : "stale")" }.joined(separator: "\n")
    }

    static func approvals(_ text: String) -> [OrganisationID: Bool] {
        var approvals: [OrganisationID: Bool] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            if parts.count == 2, let organisation = OrganisationID(rawValue: String(parts[0])) { approvals[organisation] = parts[1] == "fresh" }
        }
        return approvals
    }
}

/// One entry of an agreement's history.
public struct HistoryEntry: Hashable, Sendable {
    public let sequence: Int64
    public let change: Change
    /// The author's signature over `SignedChange.signedMessage(for: change)`.
    public let signature: P256Signature
    /// Unix milliseconds at which this node accepted it.
    public let acceptedAt: UInt64
    /// Who made it through its author node, if the node said (`Attribution`).
    public var attribution: Attribution? = nil
    /// The approver's passkey signature over the approval it holds, if one was made.
    public var passkeySignature: PasskeySignature? = nil
}

/// A change this node refused, as recorded.
public struct RejectedChange: Hashable, Sendable {
    public let id: ChangeID
    public let agreement: AgreementID
    public let rejection: ChangeRejection
    public let rejectedAt: UInt64
}

/// An agreement with everything the node knows about it.
public struct AgreementDetail: Sendable {
    public let agreement: Agreement
    public let state: AgreementState
    public let heads: [ChangeID]
    public let changeCount: Int
    /// The log sequence number of its latest accepted change (0 if none): a peer that
    /// acknowledged this far holds all of it.
    public let lastSequence: Int64
    /// Changes held and why.
    public let held: [(id: ChangeID, reason: HoldReason)]
    public let rejected: [RejectedChange]
}

/// What the node knows about one peer node.
public struct PeerState: Hashable, Sendable {
    public let node: NodeID
    /// The highest local sequence number the peer has acknowledged.
    public var acknowledgedSequence: Int64
    public var lastContact: UInt64?
    public var changesSent: Int64
    public var changesReceived: Int64
    public var changesRejected: Int64
    public var lastRejection: (code: String, message: String, at: UInt64)?

    public static func == (lhs: PeerState, rhs: PeerState) -> Bool {
        lhs.node == rhs.node && lhs.acknowledgedSequence == rhs.acknowledgedSequence && lhs.lastContact == rhs.lastContact
            && lhs.changesSent == rhs.changesSent && lhs.changesReceived == rhs.changesReceived
            && lhs.changesRejected == rhs.changesRejected && lhs.lastRejection?.code == rhs.lastRejection?.code
            && lhs.lastRejection?.message == rhs.lastRejection?.message && lhs.lastRejection?.at == rhs.lastRejection?.at
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(node) }
}

/// A mismatch between the materialised agreements and a replay of the log.
public struct ConsistencyReport: Sendable {
    public var agreementsChecked = 0
    public var changesReplayed = 0
    /// Agreements whose stored row differs from the replay, with what differs.
    public var mismatches: [(agreement: AgreementID, problem: String)] = []
    /// `PRAGMA integrity_check` output; `["ok"]` when the file is sound.
    public var integrity: [String] = []

    public var isConsistent: Bool { mismatches.isEmpty && integrity == ["ok"] }
}

extension AgreementReplica {
    /// A short digest of the history's heads: equal digests mean the same accepted history.
    var headsDigest: SHA256Digest { SHA256Digest(hashing: heads.flatMap(\.bytes)) }
}

/// What became of one record of an import.
public enum ImportOutcome: Sendable {
    case created(StoredChange)
    /// Its reference was imported before, as this agreement.
    case present(AgreementID)
    case refused(ChangeRejection)
}

/// An approver's passkey assertion over an approval this node is about to make, checked by the
/// caller against the approval's challenge; the store signs the node's statement of it
/// (`PasskeySignature`) beside the approval, in the same transaction.
public struct PasskeyEvidence: Sendable {
    public let person: String
    public let credential: PasskeySignature.Credential
    public let assertion: PasskeySignature.Assertion

    public init(person: String, credential: PasskeySignature.Credential, assertion: PasskeySignature.Assertion) {
        self.person = person
        self.credential = credential
        self.assertion = assertion
    }
}
