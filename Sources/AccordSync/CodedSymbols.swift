import AccordCrypto
package import AccordModel

/// What a coded symbol codes: an agreement and the first 16 bytes of its heads digest, as four
/// big-endian words (32 bytes). Two items are equal exactly when the agreement and its history are
/// (up to a 2⁻¹²⁸ chance of a digest prefix collision).
public struct SymbolItem: Hashable, Sendable {
    public var words: (UInt64, UInt64, UInt64, UInt64)

    public static let byteCount = 32
    static let zero = SymbolItem(words: (0, 0, 0, 0))

    public init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    package init(_ item: ReconciliationItem) {
        let digest = item.headsDigest.bytes
        self.init(words: (item.agreement.uuid.high, item.agreement.uuid.low, Self.word(digest, at: 0), Self.word(digest, at: 8)))
    }

    package var agreement: AgreementID { AgreementID(UUIDBytes(high: words.0, low: words.1)) }

    var isZero: Bool { self == .zero }

    /// SHA-256 of the item's 32 bytes: the first word is its checksum, the second seeds its
    /// symbol mapping (docs/protocol.md, "Coded symbols").
    package var hash: (checksum: UInt64, seed: UInt64) {
        let bytes = withUnsafeBytes(of: (words.0.bigEndian, words.1.bigEndian, words.2.bigEndian, words.3.bigEndian)) { Array($0) }
        let digest = SHA256Digest(hashing: bytes).bytes
        return (Self.word(digest, at: 0), Self.word(digest, at: 8))
    }

    /// Eight bytes of `bytes` from `offset`, read big-endian.
    private static func word(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        bytes[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func ^ (lhs: SymbolItem, rhs: SymbolItem) -> SymbolItem {
        SymbolItem(words: (lhs.words.0 ^ rhs.words.0, lhs.words.1 ^ rhs.words.1, lhs.words.2 ^ rhs.words.2, lhs.words.3 ^ rhs.words.3))
    }

    public static func == (lhs: SymbolItem, rhs: SymbolItem) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

/// One coded symbol of a rateless invertible Bloom lookup table (L. Yang, Y. Gilad, M. Alizadeh,
/// "Practical Rateless Set Reconciliation", SIGCOMM 2024): the XOR of the items mapped to it, the
/// XOR of their checksums, and how many there are. On the wire 44 bytes.
public struct CodedSymbol: Hashable, Sendable {
    public var sum: SymbolItem
    public var checksum: UInt64
    /// The sender's count is never negative; a difference of two symbols may be.
    public var count: Int64

    public static let encodedBytes = SymbolItem.byteCount + 8 + 4
    static let zero = CodedSymbol(sum: .zero, checksum: 0, count: 0)

    public init(sum: SymbolItem, checksum: UInt64, count: Int64) {
        self.sum = sum
        self.checksum = checksum
        self.count = count
    }

    var isZero: Bool { count == 0 && checksum == 0 && sum.isZero }

    /// Adds (`sign` 1) or removes (`sign` -1) an item.
    mutating func apply(_ item: SymbolItem, checksum: UInt64, sign: Int64) {
        sum = sum ^ item
        self.checksum ^= checksum
        count += sign
    }
}

/// The indices of the coded symbols an item is mapped to: index 0, then gaps that grow so that
/// symbol i holds each item with probability about 1 / (1 + i/2) — every prefix of the symbol
/// stream is a useful table, whatever its length. Floating point as in the paper's reference
/// implementation; IEEE 754 makes it the same on every machine.
package struct SymbolMapping {
    private var state: UInt64
    package private(set) var index: UInt64 = 0

    package init(seed: UInt64) { state = seed }

    package mutating func advance() {
        state = state &* 0xDA94_2042_E4DD_58B5
        let gap = ((Double(index) + 1.5) * (4_294_967_296.0 / (Double(state) + 1).squareRoot() - 1)).rounded(.up)
        // At least one (never the same symbol twice); at most 2⁴⁰ (far beyond any symbol sent).
        index += UInt64(min(max(gap, 1), 1_099_511_627_776))
    }
}

/// Codes a set of items into coded symbols, any window of the stream at a time. Stateless between
/// windows: a window costs one pass over the items (each visits about 2·ln(end) indices).
package struct SymbolEncoder {
    package struct Entry {
        let item: SymbolItem
        let checksum: UInt64
        let seed: UInt64

        package init(_ item: ReconciliationItem) {
            self.item = SymbolItem(item)
            (checksum, seed) = self.item.hash
        }
    }

    private let entries: ArraySlice<Entry>

    /// `entries`: the items in the order of the set they belong to (any order codes the same).
    package init(entries: ArraySlice<Entry>) { self.entries = entries }

    /// The coded symbols of indices `window`.
    package func symbols(_ window: Range<Int>) -> [CodedSymbol] {
        var symbols = [CodedSymbol](repeating: .zero, count: window.count)
        let start = UInt64(window.lowerBound)
        let end = UInt64(window.upperBound)
        for entry in entries {
            var mapping = SymbolMapping(seed: entry.seed)
            while mapping.index < end {
                if mapping.index >= start { symbols[Int(mapping.index - start)].apply(entry.item, checksum: entry.checksum, sign: 1) }
                mapping.advance()
            }
        }
        return symbols
    }
}

/// Decodes the difference between the peer's set (whose symbols arrive in windows) and this side's,
/// by peeling: a symbol of the difference holding one item alone gives the item, which is then
/// removed from every other symbol it is mapped to. Decoding is complete when symbol 0, which
/// holds every item, is empty.
package struct SymbolDecoder {
    /// The peer's symbols minus this side's, with every item recovered so far removed.
    private var difference: [CodedSymbol] = []
    private let local: SymbolEncoder
    /// Items only the peer has (+1) and only this side has (-1).
    package private(set) var recovered: [SymbolItem: Int64] = [:]
    /// Peeling stops (and decoding fails) after this many recoveries: symbols a peer made up may
    /// never peel cleanly, and must not cost more than the symbols themselves.
    private var recoveriesLeft: Int

    package init(local: SymbolEncoder) {
        self.local = local
        recoveriesLeft = 0
    }

    package var symbolCount: Int { difference.count }

    /// Whether every difference is recovered.
    package var isDecoded: Bool { difference.first?.isZero ?? false }

    /// Whether peeling found the symbols inconsistent (more recoveries than symbols allow, or an
    /// item recovered twice): they cannot be decoded, however many more arrive.
    package private(set) var isInconsistent = false

    /// Adds the peer's next window of symbols and peels what it can.
    package mutating func add(_ theirs: [CodedSymbol]) {
        let start = difference.count
        let window = start..<start + theirs.count
        let mine = local.symbols(window)
        for (index, symbol) in theirs.enumerated() {
            var symbol = symbol
            symbol.sum = symbol.sum ^ mine[index].sum
            symbol.checksum ^= mine[index].checksum
            symbol.count -= mine[index].count
            difference.append(symbol)
        }
        // What was recovered before is mapped into the new window too.
        for (item, sign) in recovered {
            let hash = item.hash
            var mapping = SymbolMapping(seed: hash.seed)
            while mapping.index < UInt64(window.upperBound) {
                if mapping.index >= UInt64(start) { difference[Int(mapping.index)].apply(item, checksum: hash.checksum, sign: -sign) }
                mapping.advance()
            }
        }
        recoveriesLeft += theirs.count
        peel(Array(window))
    }

    private mutating func peel(_ candidates: [Int]) {
        var pending = candidates
        while let index = pending.popLast(), !isInconsistent {
            let symbol = difference[index]
            guard symbol.count == 1 || symbol.count == -1 else { continue }
            let hash = symbol.sum.hash
            guard hash.checksum == symbol.checksum else { continue }
            guard recoveriesLeft > 0, recovered[symbol.sum] == nil else {
                isInconsistent = true
                return
            }
            recoveriesLeft -= 1
            recovered[symbol.sum] = symbol.count
            var mapping = SymbolMapping(seed: hash.seed)
            while mapping.index < UInt64(difference.count) {
                let at = Int(mapping.index)
                difference[at].apply(symbol.sum, checksum: hash.checksum, sign: -symbol.count)
                pending.append(at)
                mapping.advance()
            }
        }
    }
}
