/// A closed list of names the agreement record uses (categories, framework dimensions, kinds and
/// states of commitments). Each case has a one-byte tag in the canonical encoding and its Swift
/// case name as its text form (in the admin API, the CLI and the docs).
public protocol VocabularyTerm: CaseIterable, Hashable, Sendable, RawRepresentable where RawValue == UInt8 {}

extension VocabularyTerm {
    /// The case name, e.g. `technicalResources`.
    public var name: String { String(describing: self) }

    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }

    /// Every accepted name, for error messages ("one of: a, b, c").
    public static var names: String { allCases.map(\.name).joined(separator: ", ") }

    func encode(into writer: inout CanonicalWriter) { writer.write(rawValue) }

    static func decode(from reader: inout CanonicalReader, _ what: StaticString) throws(DecodingError) -> Self {
        let tag = try reader.readUInt8(what)
        guard let term = Self(rawValue: tag) else {
            throw DecodingError(what, at: reader.offset - 1, "unknown tag \(tag); known: \(names)")
        }
        return term
    }
}

/// The kind of partnership an agreement sets up.
public enum Category: UInt8, VocabularyTerm {
    case technicalResources = 1
    case fullSupport = 2
    case financialSupport = 3
}

/// The five dimensions of the framework the partners assess together.
public enum FrameworkDimension: UInt8, VocabularyTerm, Comparable {
    case valueAlignment = 1
    case technicalFit = 2
    case serviceCoverage = 3
    case dataProtection = 4
    case returnMechanism = 5

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What a party commits to.
public enum CommitmentKind: UInt8, VocabularyTerm {
    case freeResource = 1
    case customerAssistance = 2
    case qualityGuarantee = 3
    case rdSubsidy = 4
    case other = 5
}

/// Where a commitment (or one period of a recurring one) stands. Progress, not terms: changing it
/// does not make approvals stale. `claimed` and `disputed` exist only as results of the progress
/// steps between the parties (docs/merge-rules.md, "Fulfilment"); the legacy `state` field of
/// version 1 carries only the first three.
public enum CommitmentState: UInt8, VocabularyTerm {
    case open = 1
    case fulfilled = 2
    case waived = 3
    case claimed = 4
    case disputed = 5

    /// Whether the legacy `state` field may carry this state.
    var isLegacyFieldValue: Bool { rawValue <= 3 }
}

/// A step of fulfilment between the parties: the owing party claims, a party owed confirms,
/// disputes or waives (docs/design.md, trust rule 6).
public enum ProgressStep: UInt8, VocabularyTerm {
    case claim = 1
    case confirm = 2
    case dispute = 3
    case waive = 4

    /// The state a step leaves its commitment (or period) in.
    public var resultingState: CommitmentState {
        switch self {
        case .claim: .claimed
        case .confirm: .fulfilled
        case .dispute: .disputed
        case .waive: .waived
        }
    }
}

/// How often a recurring commitment falls due.
public enum Recurrence: UInt8, VocabularyTerm {
    case monthly = 1
    case quarterly = 2
    case yearly = 3

    public var months: Int {
        switch self {
        case .monthly: 1
        case .quarterly: 3
        case .yearly: 12
        }
    }
}

/// The derived status of an agreement, in order of precedence.
public enum AgreementStatus: String, CaseIterable, Sendable {
    case draft, proposed, active, expired, terminated, terminating, void

    /// The one definition of status, shared by `Agreement.status(on:)` and the store's listings:
    /// void > terminated > expired > terminating > active > proposed > draft.
    ///
    /// - void: its creator voided it before anyone approved (trust rule 7);
    /// - terminated: a termination took effect on or before `today` (at once, at the end of the
    ///   notice period, or when every party agreed: `terminatesOn`);
    /// - terminating: a termination's notice runs until `terminatesOn`, after `today`;
    /// - active: two or more parties, and every current party's approval covers the current terms;
    /// - proposed: some current party has approved some version of the terms;
    /// - expired: `expiresOn` is before `today`.
    public static func derive(
        void: Bool = false, terminatesOn: CalendarDate?, expiresOn: CalendarDate?, partyCount: Int, freshApprovals: Int,
        approvals: Int, today: CalendarDate
    ) -> AgreementStatus {
        if void { return .void }
        if let terminatesOn, terminatesOn <= today { return .terminated }
        if let expiresOn, expiresOn < today { return .expired }
        if terminatesOn != nil { return .terminating }
        if partyCount >= 2, freshApprovals == partyCount { return .active }
        if approvals > 0 { return .proposed }
        return .draft
    }
}

/// A day in the proleptic Gregorian calendar (UTC), for terms and due dates.
public struct CalendarDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// `nil` unless the date exists (years 1–9999).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1,
            day <= CalendarDate.daysIn(month: month, year: year)
        else { return nil }
        (self.year, self.month, self.day) = (year, month, day)
    }

    /// Parses `YYYY-MM-DD`.
    public init?(iso8601 text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The UTC calendar day containing `unixMillis` (Howard Hinnant's civil-from-days algorithm).
    public init(unixMillis: UInt64) {
        let days = Int(unixMillis / 86_400_000) + 719_468
        let era = days / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        (self.year, self.month, self.day) = (min(year, 9999), month, day)
    }

    public var description: String {
        func padded(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))"
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day) }

    /// Days since 1970-01-01 (negative before), Howard Hinnant's days-from-civil.
    public var daysSinceEpoch: Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` later (clamped to 9999-12-31).
    public func adding(days: Int) -> CalendarDate {
        let target = max(0, daysSinceEpoch + days)
        return CalendarDate(unixMillis: UInt64(target) * 86_400_000)
    }

    /// The same day `months` later; a day the month lacks becomes its last (31 Jan + 1 month is
    /// 28 or 29 Feb). Nil past 9999.
    public func adding(months: Int) -> CalendarDate? {
        let index = year * 12 + (month - 1) + months
        let (newYear, newMonth) = (index / 12, index % 12 + 1)
        guard (1...9999).contains(newYear) else { return nil }
        return CalendarDate(year: newYear, month: newMonth, day: min(day, Self.daysIn(month: newMonth, year: newYear)))
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    func encode(into writer: inout CanonicalWriter) {
        writer.write(UInt16(year))
        writer.write(UInt8(month))
        writer.write(UInt8(day))
    }

    static func decode(from reader: inout CanonicalReader) throws(DecodingError) -> CalendarDate {
        let start = reader.offset
        let year = Int(try reader.readUInt16("date.year"))
        let month = Int(try reader.readUInt8("date.month"))
        let day = Int(try reader.readUInt8("date.day"))
        guard let date = CalendarDate(year: year, month: month, day: day) else {
            throw DecodingError("date", at: start, "\(year)-\(month)-\(day) is not a calendar date")
        }
        return date
    }
}
