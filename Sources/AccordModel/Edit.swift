public import AccordCrypto

/// One edit inside a change. A change carries one or more; all share the change's stamp.
public enum Edit: Hashable, Sendable, CustomStringConvertible {
    /// Write a last-writer-wins field.
    case set(Field, FieldValue)
    /// Add an organisation to the parties (add-wins).
    case addParty(OrganisationID)
    /// Withdraw an organisation from the parties; only the organisation itself may.
    case withdrawParty(OrganisationID)
    /// Remove a commitment (an edit of it made concurrently keeps it: add-wins).
    case removeCommitment(CommitmentID)
    /// The organisation's approval of the terms whose content hash is `termsHash`; `signature` is
    /// the author node's signature over `Approval.signedMessage(agreement:termsHash:)`.
    case approve(organisation: OrganisationID, termsHash: SHA256Digest, signature: P256Signature)
    /// Append a note (grow-only); allowed even after termination.
    case note(String)
    /// End the agreement: at once, or at the end of the terms' notice period (trust rule 9).
    /// Among concurrent terminations the earliest stamp wins.
    case terminate(reason: String)
    /// A step of fulfilment of a commitment, or of one period (`period`) of a recurring one: the
    /// owing party claims, a party owed confirms, disputes or waives (trust rule 6). `text` is the
    /// claim's note or the dispute's reason.
    case progress(CommitmentID, period: CalendarDate?, step: ProgressStep, text: String)
    /// The creator's organisation voids a draft nobody approved (trust rule 7).
    case void(reason: String)
    /// The author's organisation agrees that `organisation`, which never approved, is removed
    /// (trust rule 8); the removal needs every other party's consent.
    case consentToRemoval(OrganisationID)
    /// Removes a party that never approved, once every other party consented (trust rule 8).
    case removeParty(OrganisationID)
    /// The author's organisation agrees to a termination it has seen: once every party has
    /// terminated or agreed, the termination takes effect at once (trust rule 9).
    case agreeTermination(reason: String)

    public static let maximumNoteBytes = 64 * 1024
    public static let maximumReasonBytes = 4 * 1024

    enum Tag: UInt8 {
        case set = 1, addParty, withdrawParty, removeCommitment, approve, note, terminate
        case progress, void, consentToRemoval, removeParty, agreeTermination
    }

    var tag: Tag {
        switch self {
        case .set: .set
        case .addParty: .addParty
        case .withdrawParty: .withdrawParty
        case .removeCommitment: .removeCommitment
        case .approve: .approve
        case .note: .note
        case .terminate: .terminate
        case .progress: .progress
        case .void: .void
        case .consentToRemoval: .consentToRemoval
        case .removeParty: .removeParty
        case .agreeTermination: .agreeTermination
        }
    }

    /// The protocol version a peer must speak to decode this edit (docs/protocol.md, "Versions"):
    /// a node never sends a change to a peer that could not read it.
    public var protocolVersion: UInt16 {
        switch self {
        case .set(let field, _): field.protocolVersion
        case .addParty, .withdrawParty, .removeCommitment, .approve, .note, .terminate: 1
        case .progress, .void, .consentToRemoval, .removeParty, .agreeTermination: 5
        }
    }

    public var description: String {
        switch self {
        case .set(let field, let value): "set \(field) = \(value)"
        case .addParty(let organisation): "add party \(organisation)"
        case .withdrawParty(let organisation): "withdraw party \(organisation)"
        case .removeCommitment(let id): "remove commitment \(id)"
        case .approve(let organisation, let hash, _): "approve as \(organisation) terms \(hash.hex.prefix(16))…"
        case .note(let text): "note \"\(text.prefix(40))\""
        case .terminate(let reason): "terminate (\(reason.prefix(40)))"
        case .progress(let id, let period, let step, _): "\(step.name) commitment \(id)" + (period.map { " for \($0)" } ?? "")
        case .void(let reason): "void (\(reason.prefix(40)))"
        case .consentToRemoval(let organisation): "consent to removing \(organisation)"
        case .removeParty(let organisation): "remove party \(organisation)"
        case .agreeTermination: "agree to the termination"
        }
    }

    func encode(into writer: inout CanonicalWriter) {
        writer.write(tag.rawValue)
        switch self {
        case .set(let field, let value):
            field.encode(into: &writer)
            value.encode(into: &writer)
        case .addParty(let organisation), .withdrawParty(let organisation):
            organisation.encode(into: &writer)
        case .removeCommitment(let id):
            id.uuid.encode(into: &writer)
        case .approve(let organisation, let hash, let signature):
            organisation.encode(into: &writer)
            writer.writeFixed(hash.bytes)
            writer.writeFixed(signature.rawRepresentation)
        case .note(let text):
            writer.write(text)
        case .terminate(let reason), .void(let reason), .agreeTermination(let reason):
            writer.write(reason)
        case .progress(let id, let period, let step, let text):
            id.uuid.encode(into: &writer)
            writer.writeOptional(period) { $1.encode(into: &$0) }
            step.encode(into: &writer)
            writer.write(text)
        case .consentToRemoval(let organisation), .removeParty(let organisation):
            organisation.encode(into: &writer)
        }
    }

    static func decode(from reader: inout CanonicalReader) throws(DecodingError) -> Edit {
        let start = reader.offset
        let tag = try reader.readUInt8("edit")
        switch Tag(rawValue: tag) {
        case .set:
            let field = try Field.decode(from: &reader)
            let valueStart = reader.offset
            let value = try FieldValue.decode(from: &reader, maximumTextBytes: field.maximumTextBytes)
            guard value.kind == field.valueKind else {
                throw DecodingError(field: "edit.set.value", at: valueStart, "\(field) does not take a \(value.kind) value")
            }
            return .set(field, value)
        case .addParty: return .addParty(try OrganisationID.decode(from: &reader, "edit.addParty"))
        case .withdrawParty: return .withdrawParty(try OrganisationID.decode(from: &reader, "edit.withdrawParty"))
        case .removeCommitment:
            return .removeCommitment(CommitmentID(try UUIDBytes.decode(from: &reader, "edit.removeCommitment")))
        case .approve:
            let organisation = try OrganisationID.decode(from: &reader, "edit.approve.organisation")
            let hash = SHA256Digest(bytes: try reader.readFixed(SHA256Digest.byteCount, "edit.approve.termsHash"))!
            let signatureBytes = Array(try reader.readFixed(P256Signature.byteCount, "edit.approve.signature"))
            guard let signature = try? P256Signature(rawRepresentation: signatureBytes) else {
                throw DecodingError("edit.approve.signature", at: reader.offset, "not an ECDSA P-256 signature")
            }
            return .approve(organisation: organisation, termsHash: hash, signature: signature)
        case .note: return .note(try reader.readText("edit.note", maximumBytes: maximumNoteBytes))
        case .terminate: return .terminate(reason: try reader.readText("edit.terminate", maximumBytes: maximumReasonBytes))
        case .progress:
            let id = CommitmentID(try UUIDBytes.decode(from: &reader, "edit.progress.commitment"))
            let period = try reader.readOptional("edit.progress.period") { reader throws(DecodingError) in try CalendarDate.decode(from: &reader) }
            let step = try ProgressStep.decode(from: &reader, "edit.progress.step")
            return .progress(id, period: period, step: step, text: try reader.readText("edit.progress.text", maximumBytes: maximumReasonBytes))
        case .void: return .void(reason: try reader.readText("edit.void", maximumBytes: maximumReasonBytes))
        case .consentToRemoval: return .consentToRemoval(try OrganisationID.decode(from: &reader, "edit.consentToRemoval"))
        case .removeParty: return .removeParty(try OrganisationID.decode(from: &reader, "edit.removeParty"))
        case .agreeTermination:
            return .agreeTermination(reason: try reader.readText("edit.agreeTermination", maximumBytes: maximumReasonBytes))
        case nil: throw DecodingError("edit", at: start, "unknown edit tag \(tag)")
        }
    }
}
