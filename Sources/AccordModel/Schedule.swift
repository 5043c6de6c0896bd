/// When a recurring commitment falls due: every month, quarter or year from a start date,
/// optionally until an end date. Each occurrence is a *period*, named by its date, and progresses
/// on its own (claimed, confirmed, disputed, waived) (docs/merge-rules.md, "Recurring commitments").
public struct Schedule: Hashable, Sendable, CustomStringConvertible {
    /// A schedule names at most this many periods; beyond, an `until` is required (100 years monthly).
    public static let maximumPeriods = 1200

    public let every: Recurrence
    public let from: CalendarDate
    public let until: CalendarDate?

    /// Nil when `until` is before `from`.
    public init?(every: Recurrence, from: CalendarDate, until: CalendarDate?) {
        if let until, until < from { return nil }
        (self.every, self.from, self.until) = (every, from, until)
    }

    /// The periods due on or before `date` (all of them when nil), in order, at most `maximumPeriods`.
    public func periods(through date: CalendarDate? = nil) -> [CalendarDate] {
        var periods: [CalendarDate] = []
        for index in 0..<Self.maximumPeriods {
            guard let period = from.adding(months: index * every.months) else { break }
            if let until, period > until { break }
            if let date, period > date { break }
            periods.append(period)
        }
        return periods
    }

    /// Whether `date` is one of the schedule's periods.
    public func hasPeriod(_ date: CalendarDate) -> Bool {
        guard date >= from, until.map({ date <= $0 }) ?? true else { return false }
        let months = (date.year - from.year) * 12 + (date.month - from.month)
        guard months % every.months == 0, months / every.months < Self.maximumPeriods else { return false }
        return from.adding(months: months) == date
    }

    public var description: String {
        "\(every.name) from \(from)" + (until.map { " until \($0)" } ?? "")
    }

    func encode(into writer: inout CanonicalWriter) {
        every.encode(into: &writer)
        from.encode(into: &writer)
        writer.writeOptional(until) { $1.encode(into: &$0) }
    }

    static func decode(from reader: inout CanonicalReader) throws(DecodingError) -> Schedule {
        let start = reader.offset
        let every = try Recurrence.decode(from: &reader, "schedule.every")
        let from = try CalendarDate.decode(from: &reader)
        let until = try reader.readOptional("schedule.until") { reader throws(DecodingError) in try CalendarDate.decode(from: &reader) }
        guard let schedule = Schedule(every: every, from: from, until: until) else {
            throw DecodingError("schedule", at: start, "ends (\(until!)) before it starts (\(from))")
        }
        return schedule
    }
}
