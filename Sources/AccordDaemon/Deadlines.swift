import AccordAdminAPI
import AccordModel
import AccordStore
import Foundation
import Logging

/// `GET /v1/due`, the deadline metrics and the events of deadlines passing.
extension NodeAdministration {
    /// - Parameter owedBy: only the commitments this organisation owes (no expiries).
    func deadlines(within days: Int, overdueOnly: Bool, owedBy: OrganisationID? = nil) async throws -> DeadlinesResponse {
        let today = CalendarDate(unixMillis: clock())
        let through = CalendarDate(unixMillis: clock() + UInt64(days) * 86_400_000)
        let deadlines = try await store.deadlines(through: through).compactMap { deadline -> DeadlinesResponse.Deadline? in
            let left = DeadlineCalendar.days(from: today, to: deadline.date)
            if overdueOnly, left >= 0 { return nil }
            if let owedBy, deadline.kind != .commitment || deadline.owner != owedBy { return nil }
            return DeadlinesResponse.Deadline(
                kind: deadline.kind.rawValue, date: deadline.date.description, daysLeft: left, agreement: deadline.agreement.description,
                title: deadline.title, commitment: deadline.commitment?.description, owner: deadline.owner?.rawValue, description: deadline.description
            )
        }
        return DeadlinesResponse(today: today.description, through: through.description, deadlines: deadlines)
    }

    /// Open commitments past their due date, and live agreements expiring within 30 days.
    func deadlineCounts() async throws -> (overdue: Int, expiringSoon: Int) {
        let all = try await deadlines(within: 30, overdueOnly: false).deadlines
        return (all.count { $0.kind == "commitment" && $0.overdue }, all.count { $0.kind == "expiry" && !$0.overdue })
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
    private var known: Set<String>?

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
        let past = try await administration.deadlines(within: 0, overdueOnly: true).deadlines
        let (news, now) = Self.news(known: known, past: past)
        known = now
        events.publish(news, atMillis: administration.clock())
    }

    /// The events of deadlines in `past` that were not past at the previous look (`known`; nil
    /// at the first), and what is past now.
    static func news(known: Set<String>?, past: [DeadlinesResponse.Deadline]) -> (events: [NodeEvent], known: Set<String>) {
        let keyed = Dictionary(past.map { ("\($0.agreement)/\($0.commitment ?? "expiry")", $0) }, uniquingKeysWith: { first, _ in first })
        guard let known else { return ([], Set(keyed.keys)) }
        let events = keyed.filter { !known.contains($0.key) }.sorted { $0.key < $1.key }.map { _, deadline in
            var event = NodeEvent(type: deadline.kind == "commitment" ? .commitmentOverdue : .agreementExpired, agreement: deadline.agreement)
            event.title = deadline.title
            event.commitment = deadline.commitment
            event.organisation = deadline.owner
            event.message = deadline.kind == "commitment" ? "due \(deadline.date): \(deadline.description ?? "")" : "expired \(deadline.date)"
            return event
        }
        return (events, Set(keyed.keys))
    }
}
