import AccordModel

/// Currencies and how people read amounts. The model checks only an amount's shape (three capital
/// letters); which codes are currencies is decided here, at the edges that take an amount from a
/// person (API, CLI, console), so that a change of the list never changes a verdict on a change.
enum Money {
    /// ISO 4217 active codes (list of 2025) with their minor-unit digits; codes not listed use 2.
    private static let zeroDecimals: Set<String> = ["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"]
    private static let threeDecimals: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]
    static let codes: Set<String> = Set("""
        AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP \
        CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK \
        JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN \
        NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC \
        SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYI UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
        """.split(whereSeparator: \.isWhitespace).map(String.init))

    static func minorDigits(_ currency: String) -> Int {
        zeroDecimals.contains(currency) ? 0 : threeDecimals.contains(currency) ? 3 : 2
    }

    /// An amount from a person: "EUR 40000.50" or currency and decimal apart. The error names
    /// what is wrong: an unknown currency, or more decimals than the currency has.
    static func amount(currency: String, decimal: String) throws(MoneyError) -> Amount {
        let currency = currency.uppercased()
        guard codes.contains(currency) else { throw MoneyError("\(currency) is not an ISO 4217 currency code (for example EUR, USD, JPY)") }
        let text = String(decimal.filter { $0 != "," && $0 != "_" })
        guard let amount = Amount(currency: currency, decimal: text) else {
            throw MoneyError("“\(decimal)” is not an amount: digits with at most one decimal point, not negative, below 9,007,199,254,740,992 units")
        }
        guard Int(amount.scale) <= minorDigits(currency) else {
            throw MoneyError("\(currency) has \(minorDigits(currency)) decimals; “\(decimal)” has more")
        }
        return amount
    }

    /// "EUR 40000.5" or "EUR 40,000.50": the form `accordctl` and the API print (`Amount.description`).
    static func amount(_ text: String) throws(MoneyError) -> Amount {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw MoneyError("“\(text)” is not an amount; write the currency and the number, e.g. “EUR 40000.50”") }
        return try amount(currency: String(parts[0]), decimal: String(parts[1]))
    }

    /// "EUR 40,000.50": grouped thousands and the currency's decimals.
    static func readable(_ amount: Amount) -> String { readable(currency: amount.currency, decimal: amount.decimal) }

    static func readable(_ total: Amount.Total) -> String { readable(currency: total.currency, decimal: total.decimal) }

    private static func readable(currency: String, decimal: String) -> String {
        let parts = decimal.split(separator: ".", omittingEmptySubsequences: false)
        var whole = String(parts[0])
        var grouped = ""
        while whole.count > 3 {
            grouped = "," + whole.suffix(3) + grouped
            whole.removeLast(3)
        }
        var fraction = parts.count > 1 ? String(parts[1]) : ""
        let digits = minorDigits(currency)
        if fraction.count < digits { fraction += String(repeating: "0", count: digits - fraction.count) }
        return "\(currency) \(whole)\(grouped)" + (fraction.isEmpty ? "" : ".\(fraction)")
    }

    /// "every month from 1 Jan 2027 until 31 Dec 2027".
    static func readableSchedule(_ schedule: Schedule) -> String {
        let every = switch schedule.every {
        case .monthly: "every month"
        case .quarterly: "every quarter"
        case .yearly: "every year"
        }
        return "\(every) from \(ReadableTime.day(schedule.from.description))" + (schedule.until.map { " until \(ReadableTime.day($0.description))" } ?? "")
    }
}

/// An amount a person wrote that is not one.
struct MoneyError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
