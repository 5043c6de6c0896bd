/// Writes Accord's canonical binary encoding (specified in `docs/encoding.md`).
///
/// Every value has exactly one encoding: fixed-width big-endian integers, length-prefixed UTF-8
/// text taken byte for byte, collections in a defined order. Two implementations that follow the
/// spec produce identical bytes, which is what change ids, signatures and content hashes rest on.
public struct CanonicalWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 128) { bytes.reserveCapacity(capacity) }

    public mutating func write(_ value: UInt8) { bytes.append(value) }
    public mutating func write(_ value: UInt16) { writeBigEndian(value) }
    public mutating func write(_ value: UInt32) { writeBigEndian(value) }
    public mutating func write(_ value: UInt64) { writeBigEndian(value) }
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// Raw bytes of a length both sides know (digests, ids, signatures).
    public mutating func writeFixed<Bytes: Sequence>(_ value: Bytes) where Bytes.Element == UInt8 {
        bytes.append(contentsOf: value)
    }

    /// Text as `u32 byte count || UTF-8 bytes`, exactly as stored: no normalisation.
    public mutating func write(_ text: String) {
        let utf8 = text.utf8
        write(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// `0` for absent, `1` followed by the value for present.
    /// Bytes of any length: a `u32` count, then the bytes.
    public mutating func writeBytes(_ value: [UInt8]) {
        write(UInt32(value.count))
        bytes += value
    }

    public mutating func writeOptional<Value>(_ value: Value?, _ writeValue: (inout CanonicalWriter, Value) -> Void) {
        guard let value else { return write(UInt8(0)) }
        write(UInt8(1))
        writeValue(&self, value)
    }

    /// `u32 count` followed by each element.
    public mutating func writeSequence<Elements: Collection>(
        _ elements: Elements,
        _ writeElement: (inout CanonicalWriter, Elements.Element) -> Void
    ) {
        write(UInt32(elements.count))
        for element in elements { writeElement(&self, element) }
    }

    private mutating func writeBigEndian<Integer: FixedWidthInteger>(_ value: Integer) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Reads the canonical encoding strictly: every length is checked against what remains before
/// anything is allocated, text must be valid UTF-8, and trailing bytes are an error. A reader never
/// traps on hostile input; it throws `DecodingError` naming what it was reading and where.
public struct CanonicalReader {
    private let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    public var remaining: Int { bytes.count - offset }

    public mutating func readUInt8(_ what: StaticString) throws(DecodingError) -> UInt8 {
        try need(1, what)
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readUInt16(_ what: StaticString) throws(DecodingError) -> UInt16 { try readBigEndian(what) }
    public mutating func readUInt32(_ what: StaticString) throws(DecodingError) -> UInt32 { try readBigEndian(what) }
    public mutating func readUInt64(_ what: StaticString) throws(DecodingError) -> UInt64 { try readBigEndian(what) }

    public mutating func readBool(_ what: StaticString) throws(DecodingError) -> Bool {
        switch try readUInt8(what) {
        case 0: return false
        case 1: return true
        case let other: throw DecodingError(what, at: offset - 1, "a boolean is 0 or 1, found \(other)")
        }
    }

    public mutating func readFixed(_ count: Int, _ what: StaticString) throws(DecodingError) -> ArraySlice<UInt8> {
        try need(count, what)
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    /// Text of at most `maximumBytes` UTF-8 bytes.
    public mutating func readText(_ what: StaticString, maximumBytes: Int) throws(DecodingError) -> String {
        let start = offset
        let count = Int(try readUInt32(what))
        guard count <= maximumBytes else {
            throw DecodingError(what, at: start, "text of \(count) bytes exceeds the limit of \(maximumBytes)")
        }
        let utf8 = try readFixed(count, what)
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw DecodingError(what, at: start, "text is not valid UTF-8")
        }
        return text
    }

    /// Bytes of at most `maximumBytes`, after their `u32` count.
    public mutating func readBytes(_ what: StaticString, maximumBytes: Int) throws(DecodingError) -> [UInt8] {
        let start = offset
        let count = Int(try readUInt32(what))
        guard count <= maximumBytes else {
            throw DecodingError(what, at: start, "\(count) bytes exceed the limit of \(maximumBytes)")
        }
        return Array(try readFixed(count, what))
    }

    public mutating func readOptional<Value>(
        _ what: StaticString,
        _ readValue: (inout CanonicalReader) throws(DecodingError) -> Value
    ) throws(DecodingError) -> Value? {
        switch try readUInt8(what) {
        case 0: return nil
        case 1: return try readValue(&self)
        case let other: throw DecodingError(what, at: offset - 1, "an optional marker is 0 or 1, found \(other)")
        }
    }

    /// A `u32`-counted sequence. `minimumElementBytes` lets the count be checked against the bytes
    /// left before any element is read, so a forged count cannot make us reserve memory.
    public mutating func readSequence<Element>(
        _ what: StaticString,
        maximumCount: Int,
        minimumElementBytes: Int,
        _ readElement: (inout CanonicalReader) throws(DecodingError) -> Element
    ) throws(DecodingError) -> [Element] {
        let start = offset
        let count = Int(try readUInt32(what))
        guard count <= maximumCount else {
            throw DecodingError(what, at: start, "\(count) elements exceed the limit of \(maximumCount)")
        }
        guard count * max(minimumElementBytes, 1) <= remaining else {
            throw DecodingError(what, at: start, "\(count) elements cannot fit in the \(remaining) bytes left")
        }
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try readElement(&self)) }
        return elements
    }

    /// Call when done: leftover bytes mean the sender and we disagree on the format.
    public func expectEnd(_ what: StaticString) throws(DecodingError) {
        guard remaining == 0 else {
            throw DecodingError(what, at: offset, "\(remaining) unexpected bytes after the end")
        }
    }

    private func need(_ count: Int, _ what: StaticString) throws(DecodingError) {
        guard count >= 0, remaining >= count else {
            throw DecodingError(what, at: offset, "needs \(count) bytes, only \(remaining) left")
        }
    }

    private mutating func readBigEndian<Integer: FixedWidthInteger>(_ what: StaticString) throws(DecodingError) -> Integer {
        let size = MemoryLayout<Integer>.size
        try need(size, what)
        var value: Integer = 0
        for index in offset..<(offset + size) { value = value << 8 | Integer(bytes[index]) }
        offset += size
        return value
    }
}

/// Bytes that do not follow the canonical encoding.
public struct DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was being read, e.g. "change.edits".
    public let field: String
    /// Byte offset into the input where the problem starts.
    public let offset: Int
    public let reason: String

    public init(_ field: StaticString, at offset: Int, _ reason: String) {
        self.field = field.description
        self.offset = offset
        self.reason = reason
    }

    public init(field: String, at offset: Int, _ reason: String) {
        self.field = field
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "malformed \(field) at byte \(offset): \(reason)" }
}
