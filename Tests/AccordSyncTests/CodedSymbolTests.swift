import AccordCrypto
import AccordModel
import AccordSync
import AccordTestSupport
import Testing

/// The rateless invertible Bloom lookup table behind protocol version 2's coded symbols
/// (CodedSymbols.swift): what it decodes, from how many symbols, and what made-up symbols cost.
@Suite("Coded symbols")
struct CodedSymbolTests {
    static func items(_ count: Int, _ random: inout SplitMix64) -> [ReconciliationItem] {
        (0..<count).map { _ in RangeReconciliationTests.item(&random) }
    }

    static func encoder(_ items: [ReconciliationItem]) -> SymbolEncoder {
        SymbolEncoder(entries: ArraySlice(items.map(SymbolEncoder.Entry.init)))
    }

    @Test("d differences among 10,000 decode, each on its side, from about 1.4·d symbols", arguments: [1, 2, 10, 100, 1_000])
    func decodes(differences: Int) throws {
        var random = SplitMix64(seed: UInt64(differences))
        let shared = Self.items(10_000, &random)
        let onlyMine = Self.items(differences / 2, &random)
        let onlyTheirs = Self.items(differences - differences / 2, &random)
        let theirs = Self.encoder((shared + onlyTheirs).shuffled(using: &random))
        var decoder = SymbolDecoder(local: Self.encoder(shared + onlyMine))
        // Windows of 1/32 of what came before (at least one symbol), to count what decoding
        // needs within 3 % (a symbol at a time costs a pass over the items per symbol).
        while !decoder.isDecoded, decoder.symbolCount < 10 * differences + 20 {
            let start = decoder.symbolCount
            decoder.add(theirs.symbols(start..<start + max(1, start / 32)))
            #expect(!decoder.isInconsistent)
        }
        #expect(decoder.isDecoded)
        var expected: [SymbolItem: Int64] = [:]
        for item in onlyTheirs { expected[SymbolItem(item)] = 1 }
        for item in onlyMine { expected[SymbolItem(item)] = -1 }
        #expect(decoder.recovered == expected)
        let perDifference = Double(decoder.symbolCount) / Double(differences)
        print("\(differences) difference(s) among 10,000: decoded from \(decoder.symbolCount) symbols (\(perDifference) per difference)")
        if differences >= 100 { #expect(perDifference < 2) }
    }

    @Test("windows of any length code the same stream")
    func windows() {
        var random = SplitMix64(seed: 7)
        let encoder = Self.encoder(Self.items(500, &random))
        let whole = encoder.symbols(0..<300)
        let pieces = encoder.symbols(0..<16) + encoder.symbols(16..<48) + encoder.symbols(48..<300)
        #expect(whole == pieces)
        // Symbol 0 holds every item.
        #expect(whole[0].count == 500)
    }

    @Test("made-up symbols never decode, and a reconciler accepts only a bounded number of them before it splits the range")
    func madeUpSymbols() throws {
        var random = SplitMix64(seed: 11)
        let mine = Self.items(1_000, &random)
        var reconciler = RangeReconciler(items: mine, codedSymbols: true)
        var accepted = 0
        var next: UInt32 = 0
        while true {
            let garbage = (0..<RangeReconciler.maximumSymbolsPerRange).map { _ in
                CodedSymbol(
                    sum: SymbolItem(words: (random.next(), random.next(), random.next(), random.next())), checksum: random.next(),
                    count: Int64(Int.random(in: -1...1, using: &random))
                )
            }
            let claim = RangeMessage.Claim.symbols(start: next, count: 1_000, garbage)
            guard let reply = reconciler.respond(to: RangeMessage(ranges: [.init(upperBound: nil, claim: claim)])),
                case .moreSymbols(let more)? = reply.ranges.first?.claim
            else { break }
            accepted += garbage.count
            next = more
            guard accepted < 1_000_000 else { throw TestFailure("the reconciler kept accepting symbols") }
        }
        #expect(reconciler.differences.isEmpty)
        // The bound: twice the items on both sides, plus a little.
        #expect(accepted <= 2 * (1_000 + 1_000) + 64)
        print("made-up symbols accepted before the range was split: \(accepted)")
    }
}
