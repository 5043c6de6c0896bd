/// A last-writer-wins field of an agreement: one register in the CRDT.
///
/// Every scalar of the record is a `Field`, so one register type and one merge rule serve them
/// all; commitments are fields keyed by commitment id and attribute.
public enum Field: Hashable, Comparable, Sendable, CustomStringConvertible {
    case title
    case category
    case framework(FrameworkDimension)
    case effectiveFrom
    case expiresOn
    case commitment(CommitmentID, CommitmentAttribute)
    /// Days of notice a party's termination needs before it takes effect (trust rule 9); none or
    /// 0: at once.
    case noticePeriod

    /// The attributes of one commitment.
    public enum Attribute: UInt8, VocabularyTerm, Comparable {
        case by = 1
        case kind = 2
        case description = 3
        case dueDate = 4
        case state = 5
        /// An exact amount of money with its currency (encoding version 2).
        case amount = 6
        /// A recurring commitment's schedule (encoding version 2).
        case schedule = 7
        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Whether the field belongs to the terms a party approves. Commitment state is progress,
    /// recorded as work gets done, and must not make every approval stale (see docs/merge-rules.md).
    public var isTerm: Bool {
        if case .commitment(_, .state) = self { return false }
        return true
    }

    /// The value kind a write to this field must carry.
    var valueKind: FieldValue.Kind {
        switch self {
        case .title, .framework: .text
        case .category: .category
        case .effectiveFrom, .expiresOn: .optionalDate
        case .commitment(_, .by): .organisation
        case .commitment(_, .kind): .commitmentKind
        case .commitment(_, .description): .text
        case .commitment(_, .dueDate): .optionalDate
        case .commitment(_, .state): .commitmentState
        case .commitment(_, .amount): .optionalAmount
        case .commitment(_, .schedule): .optionalSchedule
        case .noticePeriod: .optionalDays
        }
    }

    /// The protocol version a peer must speak to read this field (docs/protocol.md, "Versions").
    var protocolVersion: UInt16 {
        switch self {
        case .noticePeriod, .commitment(_, .amount), .commitment(_, .schedule): 5
        default: 1
        }
    }

    /// Text fields are bounded so that no change, and so no frame, can grow without limit.
    var maximumTextBytes: Int {
        switch self {
        case .title: 1024
        default: 64 * 1024
        }
    }

    public var description: String {
        switch self {
        case .title: "title"
        case .category: "category"
        case .framework(let dimension): "framework.\(dimension.name)"
        case .effectiveFrom: "term.effectiveFrom"
        case .expiresOn: "term.expiresOn"
        case .noticePeriod: "term.noticePeriod"
        case .commitment(let id, let attribute): "commitment[\(id)].\(attribute.name)"
        }
    }

    private var sortKey: (UInt8, UInt8, UUIDBytes) {
        switch self {
        case .title: (1, 0, UUIDBytes(high: 0, low: 0))
        case .category: (2, 0, UUIDBytes(high: 0, low: 0))
        case .framework(let dimension): (3, dimension.rawValue, UUIDBytes(high: 0, low: 0))
        case .effectiveFrom: (4, 0, UUIDBytes(high: 0, low: 0))
        case .expiresOn: (5, 0, UUIDBytes(high: 0, low: 0))
        case .commitment(let id, let attribute): (6, attribute.rawValue, id.uuid)
        case .noticePeriod: (7, 0, UUIDBytes(high: 0, low: 0))
        }
    }

    public static func < (lhs: Field, rhs: Field) -> Bool {
        let (left, right) = (lhs.sortKey, rhs.sortKey)
        return (left.0, left.2, left.1) < (right.0, right.2, right.1)
    }

    func encode(into writer: inout CanonicalWriter) {
        let key = sortKey
        writer.write(key.0)
        switch self {
        case .framework(let dimension): dimension.encode(into: &writer)
        case .commitment(let id, let attribute):
            id.uuid.encode(into: &writer)
            attribute.encode(into: &writer)
        case .title, .category, .effectiveFrom, .expiresOn, .noticePeriod: break
        }
    }

    static func decode(from reader: inout CanonicalReader) throws(DecodingError) -> Field {
        let tag = try reader.readUInt8("field")
        switch tag {
        case 1: return .title
        case 2: return .category
        case 3: return .framework(try FrameworkDimension.decode(from: &reader, "field.framework"))
        case 4: return .effectiveFrom
        case 5: return .expiresOn
        case 6:
            let id = CommitmentID(try UUIDBytes.decode(from: &reader, "field.commitment.id"))
            return .commitment(id, try Attribute.decode(from: &reader, "field.commitment.attribute"))
        case 7: return .noticePeriod
        default: throw DecodingError("field", at: reader.offset - 1, "unknown field tag \(tag)")
        }
    }
}

public typealias CommitmentAttribute = Field.Attribute

/// A value written to a `Field`.
public enum FieldValue: Hashable, Sendable, CustomStringConvertible {
    case text(String)
    case category(Category)
    case date(CalendarDate?)
    case organisation(OrganisationID)
    case commitmentKind(CommitmentKind)
    case commitmentState(CommitmentState)
    case amount(Amount?)
    case schedule(Schedule?)
    /// A number of days (a notice period), at most `maximumDays`.
    case days(Int?)

    public static let maximumDays = 3660

    enum Kind: UInt8 {
        case text = 1, category, optionalDate, organisation, commitmentKind, commitmentState
        case optionalAmount, optionalSchedule, optionalDays
    }

    var kind: Kind {
        switch self {
        case .text: .text
        case .category: .category
        case .date: .optionalDate
        case .organisation: .organisation
        case .commitmentKind: .commitmentKind
        case .commitmentState: .commitmentState
        case .amount: .optionalAmount
        case .schedule: .optionalSchedule
        case .days: .optionalDays
        }
    }

    public var description: String {
        switch self {
        case .text(let text): text
        case .category(let category): category.name
        case .date(let date): date?.description ?? "(none)"
        case .organisation(let organisation): organisation.rawValue
        case .commitmentKind(let kind): kind.name
        case .commitmentState(let state): state.name
        case .amount(let amount): amount?.description ?? "(none)"
        case .schedule(let schedule): schedule?.description ?? "(none)"
        case .days(let days): days.map { "\($0) days" } ?? "(none)"
        }
    }

    func encode(into writer: inout CanonicalWriter) {
        writer.write(kind.rawValue)
        switch self {
        case .text(let text): writer.write(text)
        case .category(let category): category.encode(into: &writer)
        case .date(let date): writer.writeOptional(date) { writer, date in date.encode(into: &writer) }
        case .organisation(let organisation): organisation.encode(into: &writer)
        case .commitmentKind(let kind): kind.encode(into: &writer)
        case .commitmentState(let state): state.encode(into: &writer)
        case .amount(let amount): writer.writeOptional(amount) { $1.encode(into: &$0) }
        case .schedule(let schedule): writer.writeOptional(schedule) { $1.encode(into: &$0) }
        case .days(let days): writer.writeOptional(days) { $0.write(UInt16($1)) }
        }
    }

    static func decode(from reader: inout CanonicalReader, maximumTextBytes: Int) throws(DecodingError) -> FieldValue {
        let tag = try reader.readUInt8("value")
        switch Kind(rawValue: tag) {
        case .text: return .text(try reader.readText("value.text", maximumBytes: maximumTextBytes))
        case .category: return .category(try Category.decode(from: &reader, "value.category"))
        case .optionalDate:
            return .date(try reader.readOptional("value.date") { reader throws(DecodingError) in
                try CalendarDate.decode(from: &reader)
            })
        case .organisation: return .organisation(try OrganisationID.decode(from: &reader, "value.organisation"))
        case .commitmentKind: return .commitmentKind(try CommitmentKind.decode(from: &reader, "value.commitmentKind"))
        case .commitmentState: return .commitmentState(try CommitmentState.decode(from: &reader, "value.commitmentState"))
        case .optionalAmount:
            return .amount(try reader.readOptional("value.amount") { reader throws(DecodingError) in try Amount.decode(from: &reader) })
        case .optionalSchedule:
            return .schedule(try reader.readOptional("value.schedule") { reader throws(DecodingError) in try Schedule.decode(from: &reader) })
        case .optionalDays:
            let start = reader.offset
            let days = try reader.readOptional("value.days") { reader throws(DecodingError) in Int(try reader.readUInt16("value.days")) }
            if let days, days > maximumDays {
                throw DecodingError("value.days", at: start, "\(days) days exceed the limit of \(maximumDays)")
            }
            return .days(days)
        case nil: throw DecodingError("value", at: reader.offset - 1, "unknown value tag \(tag)")
        }
    }
}
