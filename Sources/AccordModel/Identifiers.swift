public import AccordCrypto

/// An organisation: the Subject `O` of its nodes' certificates.
///
/// Compared, hashed and ordered by its exact UTF-8 bytes, never by Unicode canonical equivalence,
/// so that every node (in any language) agrees on set membership and on the canonical order.
public struct OrganisationID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public static let maximumBytes = 64

    public let rawValue: String
    private let utf8: [UInt8]

    /// `nil` if empty, longer than 64 bytes, or containing control characters.
    public init?(rawValue: String) {
        guard Identifier.isValid(rawValue, maximumBytes: Self.maximumBytes) else { return nil }
        self.rawValue = rawValue
        self.utf8 = Array(rawValue.utf8)
    }

    public init(stringLiteral value: String) {
        guard let valid = OrganisationID(rawValue: value) else { preconditionFailure("invalid organisation literal \(value)") }
        self = valid
    }

    public var description: String { rawValue }

    public static func == (lhs: OrganisationID, rhs: OrganisationID) -> Bool { lhs.utf8 == rhs.utf8 }
    public func hash(into hasher: inout Hasher) { hasher.combine(utf8) }
    public static func < (lhs: OrganisationID, rhs: OrganisationID) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    func encode(into writer: inout CanonicalWriter) { writer.write(rawValue) }

    static func decode(from reader: inout CanonicalReader, _ what: StaticString) throws(DecodingError) -> OrganisationID {
        let start = reader.offset
        let text = try reader.readText(what, maximumBytes: maximumBytes)
        guard let id = OrganisationID(rawValue: text) else {
            throw DecodingError(what, at: start, "an organisation id is 1–64 bytes without control characters")
        }
        return id
    }
}

/// A node: one `accordd` of an organisation, named by its certificate's `CN` within the `O`.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let maximumNameBytes = 64

    public let organisation: OrganisationID
    public let name: String
    private let nameUTF8: [UInt8]

    public init?(organisation: OrganisationID, name: String) {
        guard Identifier.isValid(name, maximumBytes: Self.maximumNameBytes) else { return nil }
        self.organisation = organisation
        self.name = name
        self.nameUTF8 = Array(name.utf8)
    }

    /// Parses `organisation/name`, the form `description` prints.
    public init?(_ text: String) {
        guard let slash = text.firstIndex(of: "/"), let organisation = OrganisationID(rawValue: String(text[..<slash])) else { return nil }
        self.init(organisation: organisation, name: String(text[text.index(after: slash)...]))
    }

    public var description: String { "\(organisation)/\(name)" }

    public static func == (lhs: NodeID, rhs: NodeID) -> Bool {
        lhs.organisation == rhs.organisation && lhs.nameUTF8 == rhs.nameUTF8
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(organisation)
        hasher.combine(nameUTF8)
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        if lhs.organisation != rhs.organisation { return lhs.organisation < rhs.organisation }
        return lhs.nameUTF8.lexicographicallyPrecedes(rhs.nameUTF8)
    }

    func encode(into writer: inout CanonicalWriter) {
        organisation.encode(into: &writer)
        writer.write(name)
    }

    static func decode(from reader: inout CanonicalReader) throws(DecodingError) -> NodeID {
        let organisation = try OrganisationID.decode(from: &reader, "node.organisation")
        let start = reader.offset
        let name = try reader.readText("node.name", maximumBytes: maximumNameBytes)
        guard let node = NodeID(organisation: organisation, name: name) else {
            throw DecodingError("node.name", at: start, "a node name is 1–64 bytes without control characters")
        }
        return node
    }
}

enum Identifier {
    static func isValid(_ text: String, maximumBytes: Int) -> Bool {
        let count = text.utf8.count
        return count > 0 && count <= maximumBytes
            && !text.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) }
    }
}

/// A change's content-derived id: SHA-256 of its canonical encoding (without the signature).
public typealias ChangeID = SHA256Digest

/// A 16-byte identifier shown in UUID form (8-4-4-4-12 lower-case hex).
public struct UUIDBytes: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 16
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Reads 16 bytes as two big-endian words (every agreement id decoded passes here).
    public init?<Bytes: ContiguousBytes>(bytes: Bytes) {
        let words: (UInt64, UInt64)? = bytes.withUnsafeBytes { raw in
            guard raw.count == Self.byteCount else { return nil }
            return (
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
        guard let words else { return nil }
        self.init(high: words.0, low: words.1)
    }

    /// Parses the UUID text form (hyphens optional, any case).
    public init?(uuidString: String) {
        guard let bytes = HexEncoding.decode(uuidString.filter { $0 != "-" }) else { return nil }
        self.init(bytes: bytes)
    }

    /// A random version-4 UUID from the given generator (the system one by default).
    public static func random<Generator: RandomNumberGenerator>(using generator: inout Generator) -> UUIDBytes {
        let high = generator.next() & ~0xf000 | 0x4000
        let low = generator.next() & ~(0xc000 << 48) | (0x8000 << 48)
        return UUIDBytes(high: high, low: low)
    }

    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.byteCount) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            count = Self.byteCount
        }
    }

    /// Written straight into the string's storage: every id a listing, an event or a bulk
    /// create answers with passes here (it was 4.5 % of a bulk create's CPU built from substrings).
    public var description: String {
        String(unsafeUninitializedCapacity: 36) { text in
            var position = 0
            for index in 0..<Self.byteCount {
                if index == 4 || index == 6 || index == 8 || index == 10 {
                    text[position] = UInt8(ascii: "-")
                    position += 1
                }
                let byte = UInt8(truncatingIfNeeded: (index < 8 ? high >> (56 - 8 * index) : low >> (56 - 8 * (index - 8))))
                text[position] = HexEncoding.digit(byte >> 4)
                text[position + 1] = HexEncoding.digit(byte & 0x0f)
                position += 2
            }
            return position
        }
    }

    public static func < (lhs: UUIDBytes, rhs: UUIDBytes) -> Bool { (lhs.high, lhs.low) < (rhs.high, rhs.low) }

    func encode(into writer: inout CanonicalWriter) {
        writer.write(high)
        writer.write(low)
    }

    static func decode(from reader: inout CanonicalReader, _ what: StaticString) throws(DecodingError) -> UUIDBytes {
        UUIDBytes(high: try reader.readUInt64(what), low: try reader.readUInt64(what))
    }
}

/// An identifier that is a UUID underneath, shown and parsed in UUID form.
public protocol UUIDIdentifier: Hashable, Comparable, Sendable, CustomStringConvertible {
    var uuid: UUIDBytes { get }
    init(_ uuid: UUIDBytes)
}

extension UUIDIdentifier {
    public init?(uuidString: String) {
        guard let uuid = UUIDBytes(uuidString: uuidString) else { return nil }
        self.init(uuid)
    }

    public var description: String { uuid.description }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.uuid < rhs.uuid }
}

/// An agreement's id. It is derived from the agreement's genesis change (see `Change`), so that no
/// one can forge a second "creation" of an existing agreement that lists themselves as a party.
public struct AgreementID: UUIDIdentifier {
    public let uuid: UUIDBytes

    public init(_ uuid: UUIDBytes) { self.uuid = uuid }

    /// The id an agreement gets from its genesis change: the change id's first 16 bytes, marked as
    /// an RFC 9562 version-8 (custom) UUID.
    public init(genesis: ChangeID) {
        var bytes = Array(genesis.bytes.prefix(UUIDBytes.byteCount))
        bytes[6] = bytes[6] & 0x0f | 0x80
        bytes[8] = bytes[8] & 0x3f | 0x80
        self.uuid = UUIDBytes(bytes: bytes)!
    }

    /// Written in place of the id by a genesis change, whose id does not exist until it is hashed.
    static let placeholder = AgreementID(UUIDBytes(high: 0, low: 0))
}

/// A commitment's id within its agreement, chosen at random by the node that adds it.
public struct CommitmentID: UUIDIdentifier {
    public let uuid: UUIDBytes

    public init(_ uuid: UUIDBytes) { self.uuid = uuid }

    public static func random<Generator: RandomNumberGenerator>(using generator: inout Generator) -> CommitmentID {
        CommitmentID(.random(using: &generator))
    }

    public static func random() -> CommitmentID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }
}
