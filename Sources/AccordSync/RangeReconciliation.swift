public import AccordCrypto
public import AccordModel

/// One element of the set two nodes reconcile: an agreement both are parties to, with the digest
/// of its history's heads. Equal digests mean equal histories.
public struct ReconciliationItem: Hashable, Comparable, Sendable {
    public let agreement: AgreementID
    public let headsDigest: SHA256Digest

    public init(agreement: AgreementID, headsDigest: SHA256Digest) {
        self.agreement = agreement
        self.headsDigest = headsDigest
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.agreement < rhs.agreement }

    /// The item's contribution to range fingerprints: the first 16 bytes of SHA-256(id || digest).
    package var fingerprint: Fingerprint {
        let hash = SHA256Digest(hashing: agreement.uuid.bytes + headsDigest.bytes).bytes
        return Fingerprint(bytes: hash.prefix(16))
    }
}

/// The XOR of the item fingerprints of a range: order-independent, and the fingerprint of any
/// range of a sorted list is two lookups in a prefix array.
public struct Fingerprint: Hashable, Sendable {
    public var high: UInt64
    public var low: UInt64

    static let zero = Fingerprint(high: 0, low: 0)

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    init(bytes: some Collection<UInt8>) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
        }
        self.init(high: high, low: low)
    }

    static func ^ (lhs: Fingerprint, rhs: Fingerprint) -> Fingerprint {
        Fingerprint(high: lhs.high ^ rhs.high, low: lhs.low ^ rhs.low)
    }
}

/// One message of range-based set reconciliation: consecutive ranges of the key space, each
/// described by its exclusive upper bound and what the sender says about it.
public struct RangeMessage: Hashable, Sendable {
    public enum Claim: Hashable, Sendable {
        /// Nothing more to say about this range (it matched, or was settled).
        case skip
        /// The sender's fingerprint and item count for the range.
        case fingerprint(Fingerprint, count: UInt32)
        /// The sender's items in the range; `wantsReply` asks the receiver for its own items there.
        case items([ReconciliationItem], wantsReply: Bool)
        /// Protocol version 2: the sender's coded symbols of the range with indices `start..<start
        /// + symbols.count`, and how many items the sender has there (CodedSymbols.swift).
        case symbols(start: UInt32, count: UInt32, [CodedSymbol])
        /// Protocol version 2: the receiver of symbols could not decode them yet; send on from
        /// index `next`.
        case moreSymbols(next: UInt32)
    }

    public struct Range: Hashable, Sendable {
        /// Exclusive upper bound; nil is the end of the key space.
        public var upperBound: AgreementID?
        public var claim: Claim

        public init(upperBound: AgreementID?, claim: Claim) {
            self.upperBound = upperBound
            self.claim = claim
        }
    }

    public var ranges: [Range]

    public init(ranges: [Range]) { self.ranges = ranges }

    /// Whether the message asks anything of its receiver.
    public var isFinal: Bool {
        ranges.allSatisfy {
            switch $0.claim {
            case .skip: true
            case .items(_, let wantsReply): !wantsReply
            case .fingerprint, .symbols, .moreSymbols: false
            }
        }
    }
}

/// Range-based set reconciliation (A. Meyer, "Range-Based Set Reconciliation", 2023) over the
/// agreements two organisations share. Ranges whose fingerprints match are dropped; the others are
/// split into `branching` parts until they are small enough to send as item lists. The bytes
/// exchanged grow with the number of differences times the logarithm of the set size, not with
/// the set size: two nodes in sync settle in one round trip whatever they hold.
///
/// With `codedSymbols` (protocol version 2) a mismatching range of more than `itemThreshold` items
/// is answered by coded symbols of a rateless invertible Bloom lookup table instead of being split:
/// the side that receives them decodes the differences from about 1.4 symbols (44 bytes each) per
/// difference, whatever the set size. A range whose symbols do not decode within its bound falls
/// back to splitting, so a peer that sends garbage costs at most the bound.
///
/// Pure: no I/O. Each side feeds every received message to `respond(to:)` until it returns nil.
public struct RangeReconciler: Sendable {
    /// How many parts a mismatching range is split into.
    public let branching: Int
    /// Ranges with at most this many items are sent as item lists instead of being split.
    public let itemThreshold: Int

    private let items: [ReconciliationItem]
    /// prefix[i] = XOR of the fingerprints of items[0..<i].
    private let prefix: [Fingerprint]
    /// Agreements whose histories differ between the two sides (present on one side only, or with
    /// different heads), as found so far.
    public private(set) var differences: Set<AgreementID> = []
    /// Among `differences`, the agreements this side has and the other side has nothing of: they
    /// need no heads exchange, only their whole history.
    public private(set) var missingAtPeer: Set<AgreementID> = []
    /// Answer mismatching ranges with coded symbols (protocol version 2).
    public let codedSymbols: Bool
    /// Each item's checksum and mapping seed, computed at the first symbols of a round.
    private var symbolEntries: [SymbolEncoder.Entry]?
    /// Decoders of the ranges whose symbols this side is receiving, by upper bound.
    private var decoders: [AgreementID?: SymbolDecoder] = [:]
    /// Symbols this side will still accept this round: a bound on what a peer can make it hold.
    private var symbolsLeft: Int

    /// The symbols sent first for a range, and the most in one range of one message.
    static let firstSymbols = 16
    public static let maximumSymbolsPerRange = 4096

    public init(items: [ReconciliationItem], branching: Int = 16, itemThreshold: Int = 16, codedSymbols: Bool = false) {
        let sorted = items.sorted()
        self.items = sorted
        var prefix = [Fingerprint.zero]
        prefix.reserveCapacity(sorted.count + 1)
        for item in sorted { prefix.append(prefix.last! ^ item.fingerprint) }
        self.prefix = prefix
        self.branching = max(2, branching)
        self.itemThreshold = max(1, itemThreshold)
        self.codedSymbols = codedSymbols
        symbolsLeft = 4 * sorted.count + 65_536
    }

    /// The first message: one fingerprint of the whole key space. Nearly every round is between
    /// nodes already in sync, and settles with it in one small message each way (measured in the
    /// scale scenario: 16 parts, or a list of up to 16 items, cost 1.3 KB per session and round
    /// at 30 shared agreements — 15 KB per peer and hour); a difference costs one more exchange,
    /// in which the other side splits the space. With nothing, an empty item list asks for the
    /// other side's items at once.
    public func initiate() -> RangeMessage {
        guard !items.isEmpty else { return RangeMessage(ranges: describe(lower: nil, upper: nil)) }
        return RangeMessage(ranges: [.init(upperBound: nil, claim: .fingerprint(prefix[items.count] ^ prefix[0], count: UInt32(items.count)))])
    }

    /// Answers one message. Returns nil when the message was final (it asked nothing): then
    /// reconciliation is complete. A reply that asks nothing (all ranges settled) is still sent,
    /// so the other side learns it is done.
    ///
    /// Replies stay bounded whatever the differences: a range where this side has nothing is
    /// answered by an empty item list (the other side then knows by itself which agreements this
    /// side lacks, with no list on the wire); an item list met by more than `itemThreshold` items
    /// here is settled locally (this side knows both lists) instead of answered with a long list;
    /// and once a reply holds `maximumReplyRanges` ranges or `maximumReplyBytes`, further
    /// mismatching ranges are answered by this side's fingerprint of the whole range, so the other
    /// side splits them in its turn.
    public mutating func respond(to message: RangeMessage) -> RangeMessage? {
        var reply = BoundedReply()
        var lower: AgreementID?
        var tailStart: Int?
        for range in message.ranges {
            defer { lower = range.upperBound }
            // Once the reply is full, the rest goes back as one fingerprint (below): answering
            // the remaining ranges would be work thrown away — with coded symbols, up to a
            // window of thousands of symbols for each of 4096 ranges a peer can ask about.
            guard tailStart == nil else { continue }
            let bounds = indices(lower: lower, upper: range.upperBound)
            var answer: [RangeMessage.Range]
            switch range.claim {
            case .skip:
                answer = [.init(upperBound: range.upperBound, claim: .skip)]
            case .fingerprint(let theirs, let theirCount):
                let mine = prefix[bounds.upperBound] ^ prefix[bounds.lowerBound]
                if mine == theirs, theirCount == UInt32(bounds.count) {
                    answer = [.init(upperBound: range.upperBound, claim: .skip)]
                } else if bounds.isEmpty {
                    answer = [.init(upperBound: range.upperBound, claim: .items([], wantsReply: false))]
                } else if codedSymbols, bounds.count > itemThreshold {
                    answer = [symbols(bounds, upper: range.upperBound, from: 0)]
                } else {
                    answer = describe(lower: lower, upper: range.upperBound)
                }
            case .items(let theirs, let wantsReply):
                let mine = Array(items[bounds])
                compare(mine: mine, theirs: theirs)
                let reply = wantsReply && mine.count <= itemThreshold
                answer = [.init(upperBound: range.upperBound, claim: reply ? .items(mine, wantsReply: false) : .skip)]
            case .symbols(let start, let theirCount, let symbols):
                answer = decode(symbols, start: Int(start), theirCount: Int(theirCount), lower: lower, upper: range.upperBound)
            case .moreSymbols(let next):
                if bounds.isEmpty {
                    answer = [.init(upperBound: range.upperBound, claim: .items([], wantsReply: false))]
                } else if Int(next) > 2 * bounds.count + Self.maximumSymbolsPerRange {
                    // More than an honest decoder of this range can need: split instead.
                    answer = describe(lower: lower, upper: range.upperBound)
                } else {
                    answer = [symbols(bounds, upper: range.upperBound, from: Int(next))]
                }
            }
            if !reply.append(answer) { tailStart = bounds.lowerBound }
        }
        if let tailStart {
            // Out of room: the rest of the key space goes back as one fingerprint, which the other
            // side splits in its turn. Every reply settles or splits at least its first range, so
            // the exchange always progresses.
            let end = items.count
            reply.appendTail(.init(
                upperBound: nil, claim: .fingerprint(prefix[end] ^ prefix[tailStart], count: UInt32(end - tailStart))
            ))
        }
        return message.isFinal ? nil : RangeMessage(ranges: RangeReconciler.merged(reply.ranges))
    }

    /// This side's coded symbols of the items `bounds`, from index `from`: the first window is
    /// small (few differences are the common case), each later one half as long as all before it
    /// — the stream grows by half each round trip, so it overshoots what decoding needs by at
    /// most half (doubling would waste up to as much again).
    private mutating func symbols(_ bounds: Range<Int>, upper: AgreementID?, from start: Int) -> RangeMessage.Range {
        let length = start == 0 ? Self.firstSymbols : min(max(start / 2, Self.firstSymbols), Self.maximumSymbolsPerRange)
        let symbols = encoder(bounds).symbols(start..<start + length)
        return .init(upperBound: upper, claim: .symbols(start: UInt32(start), count: UInt32(bounds.count), symbols))
    }

    private mutating func encoder(_ bounds: Range<Int>) -> SymbolEncoder {
        if symbolEntries == nil { symbolEntries = items.map(SymbolEncoder.Entry.init) }
        return SymbolEncoder(entries: symbolEntries![bounds])
    }

    /// Decodes the peer's symbols of [lower, upper) with what came before them: settles the range
    /// if they decode, asks for more if they may yet, and splits it otherwise.
    private mutating func decode(
        _ symbols: [CodedSymbol], start: Int, theirCount: Int, lower: AgreementID?, upper: AgreementID?
    ) -> [RangeMessage.Range] {
        let bounds = indices(lower: lower, upper: upper)
        let existing = start == 0 ? SymbolDecoder(local: encoder(bounds)) : decoders[upper]
        decoders[upper] = nil
        // An honest peer needs about 1.4 symbols per difference, and there are at most as many
        // differences as items on both sides.
        let bound = min(2 * (bounds.count + theirCount) + 64, symbolsLeft)
        guard var decoder = existing, decoder.symbolCount == start, start + symbols.count <= bound else {
            return describe(lower: lower, upper: upper)
        }
        symbolsLeft -= symbols.count
        decoder.add(symbols)
        if decoder.isDecoded {
            record(decoder.recovered, within: bounds)
            return [.init(upperBound: upper, claim: .skip)]
        }
        if decoder.isInconsistent { return describe(lower: lower, upper: upper) }
        decoders[upper] = decoder
        return [.init(upperBound: upper, claim: .moreSymbols(next: UInt32(decoder.symbolCount)))]
    }

    /// Records the differences decoded from symbols: items only the peer has (+1) and only this
    /// side has (-1). Only this side's own items count as this side's (a decoded item that is
    /// not one of them came from made-up symbols and is ignored).
    private mutating func record(_ recovered: [SymbolItem: Int64], within bounds: Range<Int>) {
        let mine = Set(items[bounds].map(SymbolItem.init))
        let theirAgreements = Set(recovered.filter { $0.value == 1 }.map(\.key.agreement))
        for (item, sign) in recovered {
            if sign == 1 {
                differences.insert(item.agreement)
            } else if mine.contains(item) {
                differences.insert(item.agreement)
                if !theirAgreements.contains(item.agreement) { missingAtPeer.insert(item.agreement) }
            }
        }
    }

    /// Records what differs between two complete lists of the same range.
    private mutating func compare(mine: [ReconciliationItem], theirs: [ReconciliationItem]) {
        let theirSet = Set(theirs)
        let mySet = Set(mine)
        for item in theirSet.symmetricDifference(mySet) { differences.insert(item.agreement) }
        let theirAgreements = Set(theirs.map(\.agreement))
        for item in mine where !theirAgreements.contains(item.agreement) { missingAtPeer.insert(item.agreement) }
    }

    /// Caps on one reply: the frame limit is 1 MiB and a message holds at most 4096 ranges.
    static let maximumReplyRanges = 4096
    static let maximumReplyBytes = 768 * 1024

    /// A reply that keeps within the caps, always keeping room for one last range.
    private struct BoundedReply {
        private(set) var ranges: [RangeMessage.Range] = []
        private var rangesLeft = RangeReconciler.maximumReplyRanges - 1
        private var bytesLeft = RangeReconciler.maximumReplyBytes - 64

        /// Appends `parts` if they fit; false if they do not (nothing is appended).
        mutating func append(_ parts: [RangeMessage.Range]) -> Bool {
            let cost = parts.reduce(0) { $0 + $1.encodedBytes }
            guard parts.count <= rangesLeft, cost <= bytesLeft else { return false }
            ranges += parts
            rangesLeft -= parts.count
            bytesLeft -= cost
            return true
        }

        mutating func appendTail(_ range: RangeMessage.Range) { ranges.append(range) }
    }

    /// The ranges describing [lower, upper): one item list if small, else `branching` fingerprints.
    private func describe(lower: AgreementID?, upper: AgreementID?) -> [RangeMessage.Range] {
        let bounds = indices(lower: lower, upper: upper)
        if bounds.count <= itemThreshold {
            return [.init(upperBound: upper, claim: .items(Array(items[bounds]), wantsReply: true))]
        }
        var ranges: [RangeMessage.Range] = []
        let size = bounds.count
        for part in 0..<branching {
            let start = bounds.lowerBound + size * part / branching
            let end = bounds.lowerBound + size * (part + 1) / branching
            let partUpper = part == branching - 1 ? upper : items[end].agreement
            ranges.append(.init(
                upperBound: partUpper, claim: .fingerprint(prefix[end] ^ prefix[start], count: UInt32(end - start))
            ))
        }
        return ranges
    }

    /// Indices of the items with lower ≤ id < upper.
    private func indices(lower: AgreementID?, upper: AgreementID?) -> Range<Int> {
        let start = lower.map { bound in partitionIndex { $0.agreement >= bound } } ?? 0
        let end = upper.map { bound in partitionIndex { $0.agreement >= bound } } ?? items.count
        return start..<max(start, end)
    }

    private func partitionIndex(_ predicate: (ReconciliationItem) -> Bool) -> Int {
        var low = 0
        var high = items.count
        while low < high {
            let middle = (low + high) / 2
            if predicate(items[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// Adjacent skipped ranges say nothing apart: keep only the last upper bound of each run.
    private static func merged(_ ranges: [RangeMessage.Range]) -> [RangeMessage.Range] {
        var result: [RangeMessage.Range] = []
        for range in ranges {
            if case .skip = range.claim, let last = result.last, case .skip = last.claim {
                result[result.count - 1] = range
            } else {
                result.append(range)
            }
        }
        return result
    }
}
