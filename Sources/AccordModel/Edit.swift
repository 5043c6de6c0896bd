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
    /// End the agreement. Set once: among concurrent terminations the earliest stamp wins.
    case terminate(reason: String)

    public static let maximumNoteBytes = 64 * 1024
    public static let maximumReasonBytes = 4 * 1024

    enum Tag: UInt8 {
        case set = 1, addParty, withdrawParty, removeCommitment, approve, note, terminate
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
        case .terminate(let reason):
            writer.write(reason)
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
        case nil: throw DecodingError("edit", at: start, "unknown edit tag \(tag)")
        }
    }
}
