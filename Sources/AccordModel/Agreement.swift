public import AccordCrypto

/// An agreement as people read it: the winning value of every field of the replicated state,
/// plus what is derived from them (terms hash, approvals fresh or stale, status, conflicts).
public struct Agreement: Hashable, Sendable {
    public struct Commitment: Hashable, Sendable {
        public let id: CommitmentID
        public let by: OrganisationID?
        public let kind: CommitmentKind?
        public let description: String?
        public let dueDate: CalendarDate?
        public let state: CommitmentState
    }

    /// An approval and whether it still covers the current terms.
    public struct ApprovalStatus: Hashable, Sendable {
        public let approval: Approval
        public let stamp: Stamp
        /// The change that made the approval.
        public let change: ChangeID
        /// False once the terms changed after the approval was given.
        public let isFresh: Bool
    }

    /// Two or more writes to one field made without seeing each other; `winner` is what counts.
    public struct Conflict: Hashable, Sendable {
        public let field: Field
        public let winner: RegisterWrite<FieldValue>
        public let overruled: [RegisterWrite<FieldValue>]
    }

    public let id: AgreementID
    /// What the parties approve.
    public let terms: Terms
    /// By organisation, current parties only.
    public let approvals: [OrganisationID: ApprovalStatus]
    public let notes: [Note]
    public let termination: Termination?
    /// SHA-256 of the canonical encoding of the terms (docs/encoding.md, "Terms").
    public let termsHash: SHA256Digest
    /// Every written field's register, from which conflicts and provenance are read on demand.
    private let fields: [Field: MultiValueRegister<FieldValue>]

    /// Open conflicts, by field in canonical order.
    public var conflicts: [Conflict] {
        fields.sorted { $0.key < $1.key }.compactMap { field, register in
            guard let winner = register.winner, !register.overruled.isEmpty else { return nil }
            return Conflict(field: field, winner: winner, overruled: Array(register.overruled))
        }
    }

    /// How many fields have an open conflict (cheaper than `conflicts.count`).
    public var conflictCount: Int { fields.values.count { $0.writes.count > 1 } }

    /// Who last set each field, and when.
    public var provenance: [Field: RegisterWrite<FieldValue>] { fields.compactMapValues(\.winner) }

    public var title: String? { terms.title }
    public var category: Category? { terms.category }
    public var parties: [OrganisationID] { terms.parties }
    public var framework: [FrameworkDimension: String] { terms.framework }
    public var commitments: [Commitment] { terms.commitments }
    public var effectiveFrom: CalendarDate? { terms.effectiveFrom }
    public var expiresOn: CalendarDate? { terms.expiresOn }

    public init(_ state: AgreementState) {
        func value(_ field: Field) -> FieldValue? { state.fields[field]?.value }
        func text(_ field: Field) -> String? {
            if case .text(let text)? = value(field) { return text }
            return nil
        }
        func date(_ field: Field) -> CalendarDate? {
            if case .date(let date)? = value(field) { return date }
            return nil
        }
        var framework: [FrameworkDimension: String] = [:]
        for dimension in FrameworkDimension.allCases { framework[dimension] = text(.framework(dimension)) }
        let commitments = state.commitmentIDs.map { id in
            var by: OrganisationID?
            var kind: CommitmentKind?
            var progress = CommitmentState.open
            if case .organisation(let organisation)? = value(.commitment(id, .by)) { by = organisation }
            if case .commitmentKind(let commitmentKind)? = value(.commitment(id, .kind)) { kind = commitmentKind }
            if case .commitmentState(let commitmentState)? = value(.commitment(id, .state)) { progress = commitmentState }
            return Commitment(
                id: id, by: by, kind: kind, description: text(.commitment(id, .description)),
                dueDate: date(.commitment(id, .dueDate)), state: progress
            )
        }
        var category: Category?
        if case .category(let value)? = value(.category) { category = value }
        id = state.id
        terms = Terms(
            agreement: state.id, title: text(.title), category: category, parties: state.parties,
            framework: framework, commitments: commitments,
            effectiveFrom: date(.effectiveFrom), expiresOn: date(.expiresOn)
        )
        let termsHash = terms.hash
        self.termsHash = termsHash
        var approvals: [OrganisationID: ApprovalStatus] = [:]
        for organisation in state.parties {
            guard let write = state.approvals[organisation]?.winner else { continue }
            approvals[organisation] = ApprovalStatus(
                approval: write.value, stamp: write.stamp, change: write.change, isFresh: write.value.termsHash == termsHash
            )
        }
        self.approvals = approvals
        notes = state.notes
        termination = state.termination
        fields = state.fields
    }

    /// The status on a given day (UTC); see `AgreementStatus.derive`.
    public func status(on today: CalendarDate) -> AgreementStatus {
        AgreementStatus.derive(
            terminated: termination != nil, expiresOn: expiresOn, partyCount: parties.count,
            freshApprovals: approvals.values.filter(\.isFresh).count, approvals: approvals.count, today: today
        )
    }
}

/// What the parties commit to and approve: title, category, parties, framework, commitments
/// (without their progress state) and the term dates.
public struct Terms: Hashable, Sendable {
    public static let encodingVersion: UInt8 = 1

    public let agreement: AgreementID
    public let title: String?
    public let category: Category?
    public let parties: [OrganisationID]
    public let framework: [FrameworkDimension: String]
    public let commitments: [Agreement.Commitment]
    public let effectiveFrom: CalendarDate?
    public let expiresOn: CalendarDate?

    /// The canonical encoding whose SHA-256 parties approve (docs/encoding.md, "Terms"). The
    /// agreement id is part of it so that an approval can never be carried over to another
    /// agreement with the same wording.
    public var canonicalEncoding: [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 512)
        writer.writeFixed("accord/terms/v1\n".utf8)
        writer.write(Self.encodingVersion)
        agreement.uuid.encode(into: &writer)
        writer.writeOptional(title) { $0.write($1) }
        writer.writeOptional(category) { $1.encode(into: &$0) }
        writer.writeSequence(parties.sorted()) { $1.encode(into: &$0) }
        for dimension in FrameworkDimension.allCases {
            writer.writeOptional(framework[dimension]) { $0.write($1) }
        }
        writer.writeSequence(commitments.sorted { $0.id < $1.id }) { writer, commitment in
            commitment.id.uuid.encode(into: &writer)
            writer.writeOptional(commitment.by) { $1.encode(into: &$0) }
            writer.writeOptional(commitment.kind) { $1.encode(into: &$0) }
            writer.writeOptional(commitment.description) { $0.write($1) }
            writer.writeOptional(commitment.dueDate) { $1.encode(into: &$0) }
        }
        writer.writeOptional(effectiveFrom) { $1.encode(into: &$0) }
        writer.writeOptional(expiresOn) { $1.encode(into: &$0) }
        return writer.bytes
    }

    public var hash: SHA256Digest { SHA256Digest(hashing: canonicalEncoding) }
}
