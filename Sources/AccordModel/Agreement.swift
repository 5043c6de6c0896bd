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
        /// An exact amount with its currency (per period for a recurring commitment).
        public let amount: Amount?
        /// When it recurs; nil for a one-off.
        public let schedule: Schedule?
        /// Where a one-off stands, with who moved it there (for a recurring one: `.open`).
        public let progress: Progress
        /// Where each period of a recurring commitment stands, for the periods anyone stepped.
        public let periods: [CalendarDate: Progress]

        public var state: CommitmentState { progress.state }

        /// Where a period stands (open if nobody stepped it).
        public func progress(of period: CalendarDate?) -> Progress {
            guard let period else { return progress }
            return periods[period] ?? .open
        }
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
    /// The termination that counts (the earliest to take effect), if any party gave one.
    public let termination: Termination?
    /// The day the agreement ends: the termination's, or the day every party had agreed to end
    /// it, whichever is earlier (trust rule 9).
    public let terminatesOn: CalendarDate?
    /// Which parties gave or agreed to the termination, and when.
    public let terminationConsents: [OrganisationID: RegisterWrite<String>]
    /// The creator's void, if it voided the draft (trust rule 7).
    public let void: Termination?
    /// Current party → the parties that consented to removing it (trust rule 8).
    public let removalConsents: [OrganisationID: Set<OrganisationID>]
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
    public var noticeDays: Int? { terms.noticeDays }

    /// What each party owes in money, per currency: one-off amounts, and a recurring amount once
    /// per period of a schedule that ends. (An open-ended schedule has no total; `openEnded`.)
    public var totals: [OrganisationID: [Amount.Total]] {
        var amounts: [OrganisationID: [Amount]] = [:]
        for commitment in commitments {
            guard let by = commitment.by, let amount = commitment.amount else { continue }
            if let schedule = commitment.schedule {
                guard schedule.until != nil else { continue }
                amounts[by, default: []] += Array(repeating: amount, count: schedule.periods().count)
            } else {
                amounts[by, default: []].append(amount)
            }
        }
        return amounts.mapValues { Amount.totals($0) }
    }

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
        func owing(_ id: CommitmentID) -> OrganisationID? {
            if case .organisation(let organisation)? = value(.commitment(id, .by)) { return organisation }
            return nil
        }
        var stepped: [CommitmentID: [CalendarDate?: Progress]] = [:]
        for (key, register) in state.progress {
            guard let write = register.winner else { continue }
            // A step whose side no longer matches the owing party counts for nothing (rule 6).
            stepped[key.commitment, default: [:]][key.period] =
                write.value.step.counts(by: write.author.organisation, owing: owing(key.commitment))
                ? Progress(state: write.value.state, text: write.value.text, write: write) : .open
        }
        let commitments = state.commitmentIDs.map { id in
            var by: OrganisationID?
            var kind: CommitmentKind?
            var amount: Amount?
            var schedule: Schedule?
            if case .organisation(let organisation)? = value(.commitment(id, .by)) { by = organisation }
            if case .commitmentKind(let commitmentKind)? = value(.commitment(id, .kind)) { kind = commitmentKind }
            if case .amount(let written)? = value(.commitment(id, .amount)) { amount = written }
            if case .schedule(let written)? = value(.commitment(id, .schedule)) { schedule = written }
            let steps = stepped[id] ?? [:]
            var periods: [CalendarDate: Progress] = [:]
            for case (let period?, let progress) in steps { periods[period] = progress }
            let progress = schedule != nil ? .open : (steps[nil] ?? Self.legacyProgress(state.fields[.commitment(id, .state)]?.winner, owing: by))
            return Commitment(
                id: id, by: by, kind: kind, description: text(.commitment(id, .description)),
                dueDate: date(.commitment(id, .dueDate)), amount: amount, schedule: schedule, progress: progress, periods: periods
            )
        }
        var category: Category?
        if case .category(let value)? = value(.category) { category = value }
        id = state.id
        var noticeDays: Int?
        if case .days(let days)? = value(.noticePeriod) { noticeDays = days }
        terms = Terms(
            agreement: state.id, title: text(.title), category: category, parties: state.parties,
            framework: framework, commitments: commitments,
            effectiveFrom: date(.effectiveFrom), expiresOn: date(.expiresOn), noticeDays: noticeDays
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
        // A void counts only while nobody has approved (a party's approval it had not seen wins).
        void = state.approvals.isEmpty ? state.void : nil
        terminationConsents = state.terminationConsents
        removalConsents = state.removalConsents.filter { state.isParty($0.key) }
        // Every current party gave or agreed to the termination: it ends the day the last did.
        let parties = state.parties
        var agreedOn: CalendarDate?
        if state.termination != nil, !parties.isEmpty, parties.allSatisfy({ state.terminationConsents[$0] != nil }) {
            agreedOn = parties.compactMap { state.terminationConsents[$0] }.map { CalendarDate(unixMillis: $0.stamp.millis) }.max()
        }
        terminatesOn = [state.termination?.takesEffectOn, agreedOn].compactMap { $0 }.min()
        fields = state.fields
    }

    /// A one-off's state from the `state` field of version 1, read by the rules of version 5:
    /// "fulfilled" written by the owing party is its claim, by a party owed a confirmation;
    /// "waived" counts only from a party owed; "open" is open (docs/merge-rules.md, "Fulfilment").
    private static func legacyProgress(_ write: RegisterWrite<FieldValue>?, owing: OrganisationID?) -> Progress {
        guard let write, case .commitmentState(let legacy) = write.value,
            let step = ProgressStep.legacy(legacy, by: write.author.organisation, owing: owing)
        else { return .open }
        let entry = RegisterWrite(value: ProgressEntry(step: step, text: ""), stamp: write.stamp, change: write.change)
        return Progress(state: step.resultingState, text: "", write: entry)
    }

    /// The status on a given day (UTC); see `AgreementStatus.derive`.
    public func status(on today: CalendarDate) -> AgreementStatus {
        AgreementStatus.derive(
            void: void != nil, terminatesOn: terminatesOn, expiresOn: expiresOn, partyCount: parties.count,
            freshApprovals: approvals.values.filter(\.isFresh).count, approvals: approvals.count, today: today
        )
    }
}

/// What the parties commit to and approve: title, category, parties, framework, commitments
/// (without their progress state) and the term dates.
public struct Terms: Hashable, Sendable {

    public let agreement: AgreementID
    public let title: String?
    public let category: Category?
    public let parties: [OrganisationID]
    public let framework: [FrameworkDimension: String]
    public let commitments: [Agreement.Commitment]
    public let effectiveFrom: CalendarDate?
    public let expiresOn: CalendarDate?
    public let noticeDays: Int?

    public init(
        agreement: AgreementID, title: String?, category: Category?, parties: [OrganisationID],
        framework: [FrameworkDimension: String], commitments: [Agreement.Commitment],
        effectiveFrom: CalendarDate?, expiresOn: CalendarDate?, noticeDays: Int? = nil
    ) {
        (self.agreement, self.title, self.category, self.parties) = (agreement, title, category, parties)
        (self.framework, self.commitments) = (framework, commitments)
        (self.effectiveFrom, self.expiresOn, self.noticeDays) = (effectiveFrom, expiresOn, noticeDays)
    }

    /// Version 2 when the terms use what version 1 could not say (an amount, a schedule, a
    /// notice period); terms without them encode, and hash, as they always did, so no approval
    /// given before an upgrade turns stale.
    public var encodingVersion: UInt8 {
        noticeDays != nil || commitments.contains(where: { $0.amount != nil || $0.schedule != nil }) ? 2 : 1
    }

    /// The canonical encoding whose SHA-256 parties approve (docs/encoding.md, "Terms"). The
    /// agreement id is part of it so that an approval can never be carried over to another
    /// agreement with the same wording.
    public var canonicalEncoding: [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 512)
        let version = encodingVersion
        writer.writeFixed("accord/terms/v\(version)\n".utf8)
        writer.write(version)
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
            if version >= 2 {
                writer.writeOptional(commitment.amount) { $1.encode(into: &$0) }
                writer.writeOptional(commitment.schedule) { $1.encode(into: &$0) }
            }
        }
        writer.writeOptional(effectiveFrom) { $1.encode(into: &$0) }
        writer.writeOptional(expiresOn) { $1.encode(into: &$0) }
        if version >= 2 { writer.writeOptional(noticeDays) { $0.write(UInt16($1)) } }
        return writer.bytes
    }

    public var hash: SHA256Digest { SHA256Digest(hashing: canonicalEncoding) }
}
