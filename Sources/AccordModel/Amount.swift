/// An exact amount of money: a non-negative decimal and an ISO 4217 currency code, never a
/// floating-point number (docs/encoding.md, "Amount").
///
/// The value is `units × 10^-scale`. The form is canonical — no trailing zero after the decimal
/// point, so `40000.50` is `(4000005, 1)` — because amounts are terms: two nodes that read the same
/// amount must encode the same bytes, or their approvals would not match. The model checks the
/// currency's shape only (three capital letters); whether it is a currency in use is an edge's
/// question (`ISO4217` in the daemon), so that a future list never changes a verdict.
public struct Amount: Hashable, Sendable, CustomStringConvertible {
    public static let maximumScale: UInt8 = 6
    /// 2^53 − 1: exact in a double, so `verify.sh`'s awk and a browser's JavaScript read it
    /// exactly (9 × 10^15 units: ample for money); totals are computed in Int128.
    public static let maximumUnits: Int64 = 9_007_199_254_740_991

    public let currency: String
    public let units: Int64
    public let scale: UInt8

    /// Nil unless the amount is in canonical form and in range.
    public init?(currency: String, units: Int64, scale: UInt8) {
        guard Self.isCurrencyCode(currency), (0...Self.maximumUnits).contains(units), scale <= Self.maximumScale,
            scale == 0 || units % 10 != 0
        else { return nil }
        (self.currency, self.units, self.scale) = (currency, units, scale)
    }

    /// Parses a decimal such as `40000`, `40000.5` or `1250.00` (trailing zeros are dropped).
    public init?(currency: String, decimal text: String) {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit) else { return nil }
        var fraction = parts.count == 2 ? Substring(parts[1]) : ""
        guard parts.count == 1 || !fraction.isEmpty, fraction.allSatisfy(\.isASCIIDigit) else { return nil }
        while fraction.last == "0" { fraction = fraction.dropLast() }
        guard fraction.count <= Int(Self.maximumScale), whole.count + fraction.count <= 19,
            let units = Int64(whole + fraction)
        else { return nil }
        self.init(currency: currency, units: units, scale: UInt8(fraction.count))
    }

    static func isCurrencyCode(_ text: String) -> Bool {
        text.utf8.count == 3 && text.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
    }

    /// The decimal without the currency, e.g. `40000.5`.
    public var decimal: String { Self.decimal(digits: String(units), scale: scale) }

    /// `digits` (of a non-negative integer) with a point `scale` digits from the right.
    static func decimal(digits: String, scale: UInt8) -> String {
        guard scale > 0 else { return digits }
        let padded = String(repeating: "0", count: max(0, Int(scale) + 1 - digits.count)) + digits
        let point = padded.index(padded.endIndex, offsetBy: -Int(scale))
        return "\(padded[..<point]).\(padded[point...])"
    }

    public var description: String { "\(currency) \(decimal)" }

    /// Exact sums per currency, in currency order.
    public static func totals(_ amounts: some Sequence<Amount>) -> [Amount.Total] {
        var sums: [String: (units: Int128, scale: UInt8)] = [:]
        for amount in amounts {
            let sum = sums[amount.currency] ?? (0, 0)
            let scale = max(sum.scale, amount.scale)
            sums[amount.currency] = (
                sum.units * power(scale - sum.scale) + Int128(amount.units) * power(scale - amount.scale), scale
            )
        }
        return sums.keys.sorted().map { Total(currency: $0, units: sums[$0]!.units, scale: sums[$0]!.scale) }
    }

    private static func power(_ exponent: UInt8) -> Int128 {
        (0..<exponent).reduce(Int128(1)) { value, _ in value * 10 }
    }

    /// A sum of amounts in one currency (Int128: a total of many 18-digit amounts cannot overflow).
    public struct Total: Hashable, Sendable, CustomStringConvertible {
        public let currency: String
        public let units: Int128
        public let scale: UInt8

        public var decimal: String {
            var (units, scale) = (units, scale)
            while scale > 0, units % 10 == 0 { units /= 10; scale -= 1 }
            return Amount.decimal(digits: String(units), scale: scale)
        }

        public var description: String { "\(currency) \(decimal)" }
    }

    func encode(into writer: inout CanonicalWriter) {
        writer.writeFixed(currency.utf8)
        writer.write(UInt64(units))
        writer.write(scale)
    }

    static func decode(from reader: inout CanonicalReader) throws(DecodingError) -> Amount {
        let start = reader.offset
        let currency = String(decoding: try reader.readFixed(3, "amount.currency"), as: UTF8.self)
        let units = try reader.readUInt64("amount.units")
        let scale = try reader.readUInt8("amount.scale")
        guard units <= UInt64(maximumUnits), let amount = Amount(currency: currency, units: Int64(units), scale: scale) else {
            throw DecodingError("amount", at: start, "not a canonical amount (three capital letters, at most 2^53 - 1 units and 6 decimals, no trailing zero)")
        }
        return amount
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
