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
    /// Set once; among concurrent terminations the earliest stamp wins.
    public private(set) var termination: Termination?

    public init(id: AgreementID) { self.id = id }

    /// The current parties, in canonical (bytewise) order.
    public var parties: [OrganisationID] { partyTags.filter { !$0.value.isEmpty }.keys.sorted() }

    public func isParty(_ organisation: OrganisationID) -> Bool { partyTags[organisation]?.isEmpty == false }

    /// Whether `organisation` is or ever was a party: a withdrawal empties its adds but keeps it.
    public func wasEverParty(_ organisation: OrganisationID) -> Bool { partyTags[organisation] != nil }

    /// Folds one accepted change into the state. `past` is the change's causal past; every change
    /// in it has already been integrated (causal delivery is the replica's job).
    mutating func integrate(_ change: Change, past: CausalPast) {
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
            case .withdrawParty(let organisation):
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
                // The earliest (stamp, change id) wins: equal stamps never leave it to arrival order.
                if termination.map({ (change.stamp, change.id) < ($0.stamp, $0.change) }) ?? true {
                    termination = Termination(reason: reason, stamp: change.stamp, change: change.id)
                }
            }
        }
    }

    /// The bytes of the whole state, every collection in canonical order (docs/encoding.md).
    public var canonicalEncoding: [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 1024)
        writer.write(UInt8(1))
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
