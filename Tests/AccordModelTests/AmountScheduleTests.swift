import AccordModel
import Testing

/// Amounts are exact decimals in canonical form (their bytes are terms); schedules name periods
/// with the month's last day standing in for a day it lacks.
@Suite("Amounts and schedules")
struct AmountScheduleTests {
    @Test("an amount is read exactly, in canonical form; a negative, an exponent, too many digits or decimals and a lower-case currency are refused")
    func amounts() throws {
        let amount = try #require(Amount(currency: "EUR", decimal: "40000.50"))
        #expect(amount.units == 400_005 && amount.scale == 1 && amount.description == "EUR 40000.5")
        #expect(Amount(currency: "EUR", decimal: "0.10")?.decimal == "0.1")
        #expect(Amount(currency: "JPY", decimal: "1200")?.description == "JPY 1200")
        #expect(Amount(currency: "EUR", decimal: "9007199254740991") != nil)
        for bad in ["-1", "1e3", "1.", ".5", "9007199254740992", "1.0000001", "12,5", ""] {
            #expect(Amount(currency: "EUR", decimal: bad) == nil, "\(bad)")
        }
        #expect(Amount(currency: "eur", decimal: "1") == nil && Amount(currency: "EURO", decimal: "1") == nil)
        #expect(Amount(currency: "EUR", units: 10, scale: 1) == nil, "not canonical: a trailing zero")
        let totals = Amount.totals([amount, Amount(currency: "EUR", decimal: "0.495")!, Amount(currency: "USD", decimal: "7")!])
        #expect(totals.map(\.description) == ["EUR 40000.995", "USD 7"])
        let many = Amount.totals(Array(repeating: Amount(currency: "EUR", units: Amount.maximumUnits, scale: 0)!, count: 1000))
        #expect(many.first?.decimal == "9007199254740991000", "totals do not overflow")
    }

    @Test("monthly from the 31st falls on each month's last day; a schedule ends at `until`; only its periods are periods")
    func schedules() throws {
        let from = try #require(CalendarDate(iso8601: "2027-01-31"))
        let schedule = try #require(Schedule(every: .monthly, from: from, until: CalendarDate(iso8601: "2027-05-30")))
        #expect(schedule.periods().map(\.description) == ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"])
        #expect(schedule.hasPeriod(CalendarDate(iso8601: "2027-02-28")!) && !schedule.hasPeriod(CalendarDate(iso8601: "2027-02-27")!))
        #expect(!schedule.hasPeriod(CalendarDate(iso8601: "2027-05-31")!), "after until")
        let leap = try #require(Schedule(every: .yearly, from: CalendarDate(iso8601: "2028-02-29")!, until: nil))
        #expect(leap.periods(through: CalendarDate(iso8601: "2030-12-31")).map(\.description) == ["2028-02-29", "2029-02-28", "2030-02-28"])
        #expect(Schedule(every: .quarterly, from: from, until: CalendarDate(iso8601: "2026-12-31")) == nil, "ends before it starts")
        #expect(Schedule(every: .monthly, from: from, until: nil)!.periods().count == Schedule.maximumPeriods)
        #expect(CalendarDate(iso8601: "2027-02-28")!.adding(days: 1).description == "2027-03-01")
        #expect(CalendarDate(iso8601: "2024-02-29")!.adding(days: 365).description == "2025-02-28")
    }
}
