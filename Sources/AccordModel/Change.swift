public import AccordCrypto

/// One signed unit of editing: an author node, a stamp, the changes it builds on, and the
/// edits it makes on one agreement.
///
/// A change is immutable and identified by its content: `id` is SHA-256 of `canonicalBytes`
/// (specified in docs/encoding.md). The signature is kept beside it (`SignedChange`) and is not
/// part of the id, so that every holder of a change agrees on its id whoever relayed it.
///
/// A change with no dependencies is a *genesis*: it creates its agreement, whose id is derived
/// from the genesis change's id (see `AgreementID(genesis:)`).
public struct Change: Hashable, Sendable, CustomStringConvertible {
    /// Format version written first in every encoding.
    public static let formatVersion: UInt8 = 1
    public static let maximumEdits = 256
    public static let maximumDependencies = 64
    /// No change, and so no frame carrying one, may exceed this many bytes encoded.
    public static let maximumEncodedBytes = 256 * 1024

    public let agreement: AgreementID
    public let stamp: Stamp
    /// The heads of the agreement's history as the author saw them, ascending and distinct.
    public let dependencies: [ChangeID]
    public let edits: [Edit]
    public let id: ChangeID
    public let canonicalBytes: [UInt8]

    /// The node that made the change; the stamp carries it.
    public var author: NodeID { stamp.node }
    public var isGenesis: Bool { dependencies.isEmpty }

    /// The lowest protocol version whose peers can decode this change (docs/protocol.md, "Versions").
    public var protocolVersion: UInt16 { edits.reduce(1) { max($0, $1.protocolVersion) } }

    /// A change to an existing agreement.
    public init(agreement: AgreementID, stamp: Stamp, dependencies: [ChangeID], edits: [Edit]) throws(ChangeRejection) {
        guard !dependencies.isEmpty else {
            throw ChangeRejection(.malformed, "a change to an existing agreement must name the changes it builds on")
        }
        try self.init(validating: agreement, stamp: stamp, dependencies: Array(Set(dependencies)).sorted(), edits: edits)
    }

    /// A genesis change, creating a new agreement whose id it determines.
    public static func genesis(stamp: Stamp, edits: [Edit]) throws(ChangeRejection) -> Change {
        try Change(validating: .placeholder, stamp: stamp, dependencies: [], edits: edits)
    }

    /// Decodes the canonical bytes of a change read back from this node's own log, which holds
    /// only changes that were decoded, validated and found canonical before they were written:
    /// the bytes are kept as they are instead of being encoded again to compare (the catch-up
    /// sender reads every change of its log this way).
    package init(storedCanonicalBytes bytes: [UInt8]) throws(ChangeRejection) {
        let parsed = try Self.parse(bytes)
        let id = ChangeID(hashing: bytes)
        self.id = id
        self.canonicalBytes = bytes
        self.agreement = parsed.dependencies.isEmpty ? AgreementID(genesis: id) : parsed.agreement
        self.stamp = parsed.stamp
        self.dependencies = parsed.dependencies
        self.edits = parsed.edits
    }

    /// Decodes and validates the canonical bytes of a change.
    public init(canonicalBytes bytes: [UInt8]) throws(ChangeRejection) {
        let parsed = try Self.parse(bytes)
        try self.init(validating: parsed.agreement, stamp: parsed.stamp, dependencies: parsed.dependencies, edits: parsed.edits)
        guard canonicalBytes == bytes else {
            throw ChangeRejection(.malformed, "the bytes are not the canonical encoding of the change they describe")
        }
    }

    /// The fields of a change's canonical bytes, checked as far as reading them goes.
    private static func parse(
        _ bytes: [UInt8]
    ) throws(ChangeRejection) -> (agreement: AgreementID, stamp: Stamp, dependencies: [ChangeID], edits: [Edit]) {
        guard bytes.count <= Self.maximumEncodedBytes else {
            throw ChangeRejection(.malformed, "a change of \(bytes.count) bytes exceeds the limit of \(Self.maximumEncodedBytes)")
        }
        do {
            var reader = CanonicalReader(bytes)
            let version = try reader.readUInt8("change.version")
            guard version == Self.formatVersion else {
                throw DecodingError("change.version", at: 0, "format \(version) is not supported (this node reads \(Self.formatVersion))")
            }
            let agreement = AgreementID(try UUIDBytes.decode(from: &reader, "change.agreement"))
            let node = try NodeID.decode(from: &reader)
            let stamp = Stamp(millis: try reader.readUInt64("change.stamp.millis"), counter: try reader.readUInt32("change.stamp.counter"), node: node)
            let dependenciesStart = reader.offset
            let dependencies = try reader.readSequence(
                "change.dependencies", maximumCount: Self.maximumDependencies, minimumElementBytes: SHA256Digest.byteCount
            ) { reader throws(DecodingError) in
                SHA256Digest(bytes: try reader.readFixed(SHA256Digest.byteCount, "change.dependency"))!
            }
            guard zip(dependencies, dependencies.dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw DecodingError("change.dependencies", at: dependenciesStart, "dependencies must be strictly ascending")
            }
            let edits = try reader.readSequence(
                "change.edits", maximumCount: Self.maximumEdits, minimumElementBytes: 2
            ) { reader throws(DecodingError) in try Edit.decode(from: &reader) }
            try reader.expectEnd("change")
            if dependencies.isEmpty, agreement != .placeholder {
                throw DecodingError("change.agreement", at: 1, "a genesis change writes the all-zero placeholder id")
            }
            return (agreement, stamp, dependencies, edits)
        } catch let error as DecodingError {
            throw .malformed(error)
        } catch {
            throw ChangeRejection(.malformed, "\(error)")
        }
    }

    private init(validating agreement: AgreementID, stamp: Stamp, dependencies: [ChangeID], edits: [Edit]) throws(ChangeRejection) {
        try Change.checkStructure(dependencies: dependencies, edits: edits)
        if !dependencies.isEmpty, agreement == .placeholder {
            throw ChangeRejection(.malformed, "only a genesis change may use the placeholder agreement id")
        }
        var writer = CanonicalWriter(reservingCapacity: 160)
        writer.write(Self.formatVersion)
        agreement.uuid.encode(into: &writer)
        stamp.node.encode(into: &writer)
        writer.write(stamp.millis)
        writer.write(stamp.counter)
        writer.writeSequence(dependencies) { writer, dependency in writer.writeFixed(dependency.bytes) }
        writer.writeSequence(edits) { writer, edit in edit.encode(into: &writer) }
        guard writer.bytes.count <= Self.maximumEncodedBytes else {
            throw ChangeRejection(.malformed, "the change encodes to \(writer.bytes.count) bytes, over the limit of \(Self.maximumEncodedBytes)")
        }
        let id = ChangeID(hashing: writer.bytes)
        self.id = id
        self.canonicalBytes = writer.bytes
        self.agreement = dependencies.isEmpty ? AgreementID(genesis: id) : agreement
        self.stamp = stamp
        self.dependencies = dependencies
        self.edits = edits
    }

    /// Rules that depend on the change alone: they hold or fail the same way on every node.
    private static func checkStructure(dependencies: [ChangeID], edits: [Edit]) throws(ChangeRejection) {
        guard !edits.isEmpty else { throw ChangeRejection(.malformed, "a change must carry at least one edit") }
        guard edits.count <= maximumEdits else {
            throw ChangeRejection(.malformed, "\(edits.count) edits exceed the limit of \(maximumEdits)")
        }
        guard dependencies.count <= maximumDependencies else {
            throw ChangeRejection(.malformed, "\(dependencies.count) dependencies exceed the limit of \(maximumDependencies)")
        }
        // One write per register, one membership edit per organisation or commitment, at most one
        // approval and one termination: several would need an order inside the change.
        var fields = Set<Field>()
        var parties = Set<OrganisationID>()
        var removedCommitments = Set<CommitmentID>()
        var approvals = 0
        var terminations = 0
        var progressed = Set<ProgressKey>()
        for edit in edits {
            switch edit {
            case .set(let field, let value):
                guard value.kind == field.valueKind else {
                    throw ChangeRejection(.malformed, "\(field) cannot take the value \(value)")
                }
                if case .commitmentState(let state) = value, !state.isLegacyFieldValue {
                    throw ChangeRejection(.malformed, "\(field) cannot be written \(state.name): only the steps of fulfilment lead there")
                }
                if case .text(let text) = value, text.utf8.count > field.maximumTextBytes {
                    throw ChangeRejection(.malformed, "\(field) is limited to \(field.maximumTextBytes) bytes")
                }
                guard fields.insert(field).inserted else {
                    throw ChangeRejection(.malformed, "\(field) is written more than once in one change")
                }
            case .addParty(let organisation), .withdrawParty(let organisation), .consentToRemoval(let organisation),
                .removeParty(let organisation):
                guard parties.insert(organisation).inserted else {
                    throw ChangeRejection(.malformed, "party \(organisation) is edited more than once in one change")
                }
            case .removeCommitment(let id):
                guard removedCommitments.insert(id).inserted else {
                    throw ChangeRejection(.malformed, "commitment \(id) is removed more than once in one change")
                }
            case .approve:
                approvals += 1
                guard approvals == 1 else { throw ChangeRejection(.malformed, "a change carries at most one approval") }
            case .note(let text):
                guard text.utf8.count <= Edit.maximumNoteBytes else {
                    throw ChangeRejection(.malformed, "a note is limited to \(Edit.maximumNoteBytes) bytes")
                }
            case .terminate(let reason), .void(let reason), .agreeTermination(let reason):
                terminations += 1
                guard terminations == 1 else {
                    throw ChangeRejection(.malformed, "a change terminates, voids or agrees to a termination at most once")
                }
                guard reason.utf8.count <= Edit.maximumReasonBytes else {
                    throw ChangeRejection(.malformed, "a reason is limited to \(Edit.maximumReasonBytes) bytes")
                }
            case .progress(let id, let period, let step, let text):
                guard progressed.insert(ProgressKey(commitment: id, period: period)).inserted else {
                    throw ChangeRejection(.malformed, "commitment \(id) progresses more than once in one change")
                }
                guard text.utf8.count <= Edit.maximumReasonBytes else {
                    throw ChangeRejection(.malformed, "a claim's note or a dispute's reason is limited to \(Edit.maximumReasonBytes) bytes")
                }
                if step == .dispute, text.allSatisfy(\.isWhitespace) {
                    throw ChangeRejection(.malformed, "a dispute of commitment \(id) must give its reason")
                }
            }
        }
        for case .commitment(let id, _) in fields where removedCommitments.contains(id) {
            throw ChangeRejection(.malformed, "commitment \(id) is both edited and removed in one change")
        }
    }

    public var description: String { "change \(id.hex.prefix(12)) by \(author) on \(agreement)" }

    public static func == (lhs: Change, rhs: Change) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}
