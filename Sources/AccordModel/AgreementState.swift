import AccordCrypto

/// The replicated state of one agreement: the CRDT that every party's node holds a copy of.
///
/// It is a pure function of the set of accepted changes, built by `integrate` in any causal
/// order. `canonicalEncoding` turns it into bytes, so "same state on every node" is checked by
/// comparing bytes, not by trusting `==`.
public struct AgreementState: Hashable, Sendable {
    public let id: AgreementID
    /// Every last-writer-wins field that has been written.
    public private(set) var fields: [Field: MultiValueRegister<FieldValue>] = [:]
    /// Add-wins set of parties: each organisation's add edits not removed by a withdrawal
    /// that had seen them. An organisation is a party while it has at least one live add.
    private(set) var partyTags: [OrganisationID: Set<ChangeID>] = [:]
    /// Add-wins presence of commitments: every write to a commitment is an add.
    private(set) var commitmentTags: [CommitmentID: Set<ChangeID>] = [:]
    /// One register per organisation; only that organisation's nodes write to it.
    public private(set) var approvals: [OrganisationID: MultiValueRegister<Approval>] = [:]
    /// Grow-only, in (stamp, change, index) order.
    public private(set) var notes: [Note] = []
    /// Among terminations, the one that takes effect first (then the earliest stamp) counts.
    public private(set) var termination: Termination?
    /// Each organisation's earliest termination or agreement to one: when every party has one,
    /// the termination takes effect at once (trust rule 9).
    public private(set) var terminationConsents: [OrganisationID: RegisterWrite<String>] = [:]
    /// Whether any party agreed to a termination (rather than only giving one).
    private var agreedToTermination = false
    /// Set once by the creator's void; the earliest counts.
    public private(set) var void: Termination?
    /// Organisation → the parties that consented to removing it (grow-only; trust rule 8).
    public private(set) var removalConsents: [OrganisationID: Set<OrganisationID>] = [:]
    /// One register per commitment and period: the steps of fulfilment (trust rule 6).
    public private(set) var progress: [ProgressKey: MultiValueRegister<ProgressEntry>] = [:]

    public init(id: AgreementID) { self.id = id }

    /// The current parties, in canonical (bytewise) order.
    public var parties: [OrganisationID] { partyTags.filter { !$0.value.isEmpty }.keys.sorted() }

    public func isParty(_ organisation: OrganisationID) -> Bool { partyTags[organisation]?.isEmpty == false }

    /// Whether `organisation` is or ever was a party: a withdrawal empties its adds but keeps it.
    public func wasEverParty(_ organisation: OrganisationID) -> Bool { partyTags[organisation] != nil }

    /// Folds one accepted change into the state. `past` is the change's causal past; every change
    /// in it has already been integrated (causal delivery is the replica's job).
    /// `noticeDays` is the terms' notice period as the change's author saw it (trust rule 9).
    mutating func integrate(_ change: Change, past: CausalPast, noticeDays: Int = 0) {
        var noteIndex = 0
        for edit in change.edits {
            switch edit {
            case .set(let field, let value):
                fields[field, default: MultiValueRegister()].write(
                    RegisterWrite(value: value, stamp: change.stamp, change: change.id), past: past
                )
                if case .commitment(let commitment, _) = field {
                    commitmentTags[commitment, default: []].insert(change.id)
                }
            case .addParty(let organisation):
                partyTags[organisation, default: []].insert(change.id)
            case .withdrawParty(let organisation), .removeParty(let organisation):
                partyTags[organisation] = partyTags[organisation]?.filter { !past.contains($0) }
            case .removeCommitment(let commitment):
                commitmentTags[commitment] = commitmentTags[commitment]?.filter { !past.contains($0) }
            case .approve(let organisation, let termsHash, let signature):
                let approval = Approval(organisation: organisation, termsHash: termsHash, signature: signature)
                approvals[organisation, default: MultiValueRegister()].write(
                    RegisterWrite(value: approval, stamp: change.stamp, change: change.id), past: past
                )
            case .note(let text):
                let note = Note(text: text, stamp: change.stamp, change: change.id, index: noteIndex)
                noteIndex += 1
                let position = notes.firstIndex { Note.precedes(note, $0) } ?? notes.endIndex
                notes.insert(note, at: position)
            case .terminate(let reason):
                // The one taking effect first, then the earliest (stamp, change id), wins: equal
                // stamps never leave it to arrival order. Without notice periods this is the
                // earliest termination, as in version 1.
                let candidate = Termination(reason: reason, stamp: change.stamp, change: change.id, noticeDays: noticeDays)
                if termination.map({ candidate.order < $0.order }) ?? true { termination = candidate }
                consentToTermination(change, reason: reason)
            case .agreeTermination(let reason):
                agreedToTermination = true
                consentToTermination(change, reason: reason)
            case .void(let reason):
                let candidate = Termination(reason: reason, stamp: change.stamp, change: change.id, noticeDays: 0)
                if void.map({ candidate.order < $0.order }) ?? true { void = candidate }
            case .progress(let id, let period, let step, let text):
                progress[ProgressKey(commitment: id, period: period), default: MultiValueRegister()].write(
                    RegisterWrite(value: ProgressEntry(step: step, text: text), stamp: change.stamp, change: change.id), past: past
                )
            case .consentToRemoval(let organisation):
                removalConsents[organisation, default: []].insert(change.author.organisation)
            }
        }
    }

    private mutating func consentToTermination(_ change: Change, reason: String) {
        let organisation = change.author.organisation
        let write = RegisterWrite(value: reason, stamp: change.stamp, change: change.id)
        if terminationConsents[organisation].map({ write.order < $0.order }) ?? true { terminationConsents[organisation] = write }
    }

    /// The bytes of the whole state, every collection in canonical order (docs/encoding.md).
    public var canonicalEncoding: [UInt8] {
        // Version 2 of the encoding appends what the rules of protocol version 5 added; a state
        // without any of it encodes as version 1 did.
        let extended = void != nil || !progress.isEmpty || (termination?.noticeDays ?? 0) > 0 || agreedToTermination || !removalConsents.isEmpty
        var writer = CanonicalWriter(reservingCapacity: 1024)
        writer.write(UInt8(extended ? 2 : 1))
        id.uuid.encode(into: &writer)
        writer.writeSequence(fields.sorted { $0.key < $1.key }) { writer, entry in
            entry.key.encode(into: &writer)
            writer.writeSequence(entry.value.writes) { writer, write in
                write.value.encode(into: &writer)
                AgreementState.encode(write.stamp, write.change, into: &writer)
            }
        }
        AgreementState.encodeTags(partyTags.sorted { $0.key < $1.key }, into: &writer) { $1.encode(into: &$0) }
        AgreementState.encodeTags(commitmentTags.sorted { $0.key < $1.key }, into: &writer) { $1.uuid.encode(into: &$0) }
        writer.writeSequence(approvals.sorted { $0.key < $1.key }) { writer, entry in
            entry.key.encode(into: &writer)
            writer.writeSequence(entry.value.writes) { writer, write in
                writer.writeFixed(write.value.termsHash.bytes)
                writer.writeFixed(write.value.signature.rawRepresentation)
                AgreementState.encode(write.stamp, write.change, into: &writer)
            }
        }
        writer.writeSequence(notes) { writer, note in
            writer.write(note.text)
            AgreementState.encode(note.stamp, note.change, into: &writer)
            writer.write(UInt32(note.index))
        }
        writer.writeOptional(termination) { writer, termination in
            writer.write(termination.reason)
            AgreementState.encode(termination.stamp, termination.change, into: &writer)
        }
        guard extended else { return writer.bytes }
        writer.write(UInt16(termination?.noticeDays ?? 0))
        writer.writeSequence(terminationConsents.sorted { $0.key < $1.key }) { writer, entry in
            entry.key.encode(into: &writer)
            writer.write(entry.value.value)
            AgreementState.encode(entry.value.stamp, entry.value.change, into: &writer)
        }
        writer.writeOptional(void) { writer, void in
            writer.write(void.reason)
            AgreementState.encode(void.stamp, void.change, into: &writer)
        }
        writer.writeSequence(removalConsents.sorted { $0.key < $1.key }) { writer, entry in
            entry.key.encode(into: &writer)
            writer.writeSequence(entry.value.sorted()) { $1.encode(into: &$0) }
        }
        writer.writeSequence(progress.sorted { $0.key < $1.key }) { writer, entry in
            entry.key.commitment.uuid.encode(into: &writer)
            writer.writeOptional(entry.key.period) { $1.encode(into: &$0) }
            writer.writeSequence(entry.value.writes) { writer, write in
                write.value.step.encode(into: &writer)
                writer.write(write.value.text)
                AgreementState.encode(write.stamp, write.change, into: &writer)
            }
        }
        return writer.bytes
    }

    private static func encode(_ stamp: Stamp, _ change: ChangeID, into writer: inout CanonicalWriter) {
        writer.write(stamp.millis)
        writer.write(stamp.counter)
        stamp.node.encode(into: &writer)
        writer.writeFixed(change.bytes)
    }

    /// Only live tags are encoded; an organisation or commitment with none is absent.
    private static func encodeTags<Key>(
        _ entries: [(key: Key, value: Set<ChangeID>)],
        into writer: inout CanonicalWriter,
        _ encodeKey: (inout CanonicalWriter, Key) -> Void
    ) {
        let live = entries.filter { !$0.value.isEmpty }
        writer.writeSequence(live) { writer, entry in
            encodeKey(&writer, entry.key)
            writer.writeSequence(entry.value.sorted()) { writer, tag in writer.writeFixed(tag.bytes) }
        }
    }

    /// Whether a commitment exists (has a live write).
    public func hasCommitment(_ id: CommitmentID) -> Bool { commitmentTags[id]?.isEmpty == false }

    /// The ids of the commitments that exist, ascending.
    public var commitmentIDs: [CommitmentID] { commitmentTags.filter { !$0.value.isEmpty }.keys.sorted() }
}
