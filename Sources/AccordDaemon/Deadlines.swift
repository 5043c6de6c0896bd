import AccordAdminAPI
import AccordModel
import AccordStore
import Foundation
import Logging

/// `GET /v1/due`, the deadline metrics and the events of deadlines passing.
extension NodeAdministration {
    /// The store's deadlines through `days` from today, with the day they are counted from.
    /// - Parameter owedBy: only the commitments this organisation owes (no expiries).
    func deadlines(within days: Int, overdueOnly: Bool, owedBy: OrganisationID? = nil) async throws -> (today: CalendarDate, through: CalendarDate, deadlines: [Deadline]) {
        let today = CalendarDate(unixMillis: clock())
        let through = CalendarDate(unixMillis: clock() + UInt64(days) * 86_400_000)
        let deadlines = try await store.deadlines(through: through).filter { deadline in
            if overdueOnly, DeadlineCalendar.days(from: today, to: deadline.date) >= 0 { return false }
            if let owedBy, deadline.kind != .commitment || deadline.owner != owedBy { return false }
            return true
        }
        return (today, through, deadlines)
    }

    /// `GET /v1/due`.
    func deadlines(_ query: DueQuery) async throws -> DeadlinesResponse {
        let (today, through, deadlines) = try await deadlines(within: query.days, overdueOnly: query.overdueOnly, owedBy: query.owedBy)
        return DeadlinesResponse(today: today.description, through: through.description, deadlines: deadlines.map { Views.deadline($0, today: today) })
    }

    /// Open commitments past their due date, and live agreements expiring within 30 days.
    func deadlineCounts() async throws -> (overdue: Int, expiringSoon: Int) {
        let (today, _, all) = try await deadlines(within: 30, overdueOnly: false)
        let past = { (deadline: Deadline) in DeadlineCalendar.days(from: today, to: deadline.date) < 0 }
        return (all.count { $0.kind == .commitment && past($0) }, all.count { $0.kind == .expiry && !past($0) })
    }
}

enum DeadlineCalendar {
    /// Whole days from `start` to `end` (negative if `end` is earlier), in UTC.
    static func days(from start: CalendarDate, to end: CalendarDate) -> Int { unixDay(end) - unixDay(start) }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func unixDay(_ date: CalendarDate) -> Int {
        let year = date.month <= 2 ? date.year - 1 : date.year
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let dayOfYear = (153 * (date.month + (date.month > 2 ? -3 : 9)) + 2) / 5 + date.day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// Publishes `commitment-overdue` and `agreement-expired` as dates pass: every hour it reads
/// what is past and announces what was not past at the previous look. What is already past when
/// the node starts is the baseline, not news (`accordctl agreements due --overdue` lists it).
actor DeadlineWatch {
    private let administration: NodeAdministration
    private let events: EventHub
    private var known: Set<Deadline>?

    init(administration: NodeAdministration, events: EventHub) {
        self.administration = administration
        self.events = events
    }

    func run(every interval: Duration = .seconds(3600)) async throws {
        while true {
            try await look()
            try await Task.sleep(for: interval)
        }
    }

    func look() async throws {
        let (_, _, past) = try await administration.deadlines(within: 0, overdueOnly: true)
        let (news, now) = Self.news(known: known, past: past)
        known = now
        events.publish(news, atMillis: administration.clock())
    }

    /// The events of deadlines in `past` that were not past at the previous look (`known`; nil
    /// at the first), and what is past now.
    static func news(known: Set<Deadline>?, past: [Deadline]) -> (events: [NodeEvent], known: Set<Deadline>) {
        let now = Set(past)
        guard let known else { return ([], now) }
        let events = past.filter { !known.contains($0) }.map { deadline in
            var event = NodeEvent(type: deadline.kind == .commitment ? .commitmentOverdue : .agreementExpired, agreement: deadline.agreement.description)
            event.title = deadline.title
            event.commitment = deadline.commitment?.description
            event.organisation = deadline.owner?.rawValue
            event.message = deadline.kind == .commitment ? "due \(deadline.date): \(deadline.description ?? "")" : "expired \(deadline.date)"
            return event
        }
        return (events, now)
    }
}
