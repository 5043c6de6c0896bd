internal import COpenSSL

/// A SHA-256 digest, held inline as four big-endian words so that ids built on it hash, compare
/// and copy without touching the heap. Ordering is the bytewise (lexicographic) order of the digest.
public struct SHA256Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 32

    private var w0: UInt64
    private var w1: UInt64
    private var w2: UInt64
    private var w3: UInt64

    /// Wraps 32 bytes that already are a digest (read from the wire or from storage). Reads them
    /// as four big-endian words in one pass: it runs for every id of every change decoded.
    public init?<Bytes: ContiguousBytes>(bytes: Bytes) {
        let words: (UInt64, UInt64, UInt64, UInt64)? = bytes.withUnsafeBytes { raw in
            guard raw.count == Self.byteCount else { return nil }
            func word(_ index: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)) }
            return (word(0), word(1), word(2), word(3))
        }
        guard let words else { return nil }
        (w0, w1, w2, w3) = words
    }

    /// SHA-256 of `message`, computed by libcrypto.
    public init<Bytes: ContiguousBytes>(hashing message: Bytes) {
        var output = [UInt8](repeating: 0, count: Self.byteCount)
        message.withUnsafeBytes { input in
            _ = SHA256(input.baseAddress?.assumingMemoryBound(to: UInt8.self), input.count, &output)
        }
        self.init(bytes: output)!
    }

    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.byteCount) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            for (index, word) in [w0, w1, w2, w3].enumerated() { raw.storeBytes(of: word.bigEndian, toByteOffset: index * 8, as: UInt64.self) }
            count = Self.byteCount
        }
    }

    /// Lower-case hexadecimal, as `openssl dgst -sha256` prints it.
    public var hex: String { HexEncoding.encode(bytes) }

    public var description: String { hex }

    public static func < (lhs: SHA256Digest, rhs: SHA256Digest) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }
}

/// Anything that can lend its bytes contiguously; `[UInt8]` and `ArraySlice<UInt8>` qualify.
public protocol ContiguousBytes {
    func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result
}

extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}

/// Hexadecimal text for fingerprints, digests and ids.
public enum HexEncoding {
    /// The lower-case ASCII hex digit of a value below 16.
    @inline(__always)
    public static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digit(byte >> 4))
            text.append(digit(byte & 0x0f))
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Accepts upper or lower case; `nil` for odd length or any non-hex character.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
