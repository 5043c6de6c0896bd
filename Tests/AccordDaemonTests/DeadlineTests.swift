import AccordAdminAPI
@testable import AccordDaemon
import AccordModel
import AccordStore
import AccordTestSupport
import Foundation
import Testing

/// `accordctl agreements due`, the deadline counts and the events of dates passing.
@Suite("Deadlines", .serialized)
struct DeadlineTests {
    /// The UTC calendar day `days` after today's. (No offset within the day: one pushed the date a day further every
    /// afternoon, and the test failed after 12:00 UTC.)
    static func date(daysFromNow days: Int) -> String {
        CalendarDate(unixMillis: UInt64(Date().timeIntervalSince1970 * 1000) + UInt64(days * 86_400_000)).description
    }

    /// Days from the node's today (as it answered) to `date`: the test may cross midnight between writing and asking.
    static func daysLeft(_ response: DeadlinesResponse, to date: String) throws -> Int {
        DeadlineCalendar.days(from: try #require(CalendarDate(iso8601: response.today)), to: try #require(CalendarDate(iso8601: date)))
    }

    @Test("due lists open commitments and expiries of live agreements by date with their owner, overdue ones first; --within and --overdue narrow it; status and metrics count them")
    func due() async throws {
        let nodes = try daemonMesh(["acme"])
        let acme = nodes[0]
        try await withNodes(nodes) {
            try await acme.start()
            let late = try await acme.createAgreement("Late delivery", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "commitment", late, "add", "--by", "globex", "--kind", "customerAssistance",
                                       "--description", "Support desk staffed", "--due", "2020-01-31").succeeded)
            let inTenDays = Self.date(daysFromNow: 10), inFiveDays = Self.date(daysFromNow: 5)
            #expect(try await acme.ctl("agreements", "commitment", late, "add", "--by", "acme", "--kind", "freeResource",
                                       "--description", "GPU hours", "--due", inTenDays).succeeded)
            let expiring = try await acme.createAgreement("Ends soon", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "set", expiring, "expiresOn", inFiveDays).succeeded)
            let ended = try await acme.createAgreement("Terminated", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "commitment", ended, "add", "--by", "acme", "--kind", "freeResource",
                                       "--description", "never mind", "--due", "2020-01-01").succeeded)
            #expect(try await acme.ctl("agreements", "terminate", ended, "--reason", "merged").succeeded)
            let fulfilled = try await acme.createAgreement("Done", parties: ["acme", "globex"])
            let added = try await acme.json("agreements", "commitment", fulfilled, "add", "--by", "acme", "--kind", "freeResource",
                                            "--description", "delivered", "--due", "2020-01-01", as: ChangeReceipt.self)
            #expect(try await acme.ctl("agreements", "commitment", fulfilled, "fulfil", try #require(added.commitment)).succeeded)
            // A draft nobody approved binds nobody: its dates count once acme has approved it.
            #expect(try await acme.json("agreements", "due", as: DeadlinesResponse.self).deadlines.isEmpty)
            for id in [late, expiring] { #expect(try await acme.ctl("agreements", "approve", id).succeeded) }

            let all: DeadlinesResponse = try await acme.json("agreements", "due")
            #expect(all.deadlines.map(\.kind) == ["commitment", "expiry", "commitment"], "\(all.deadlines)")
            #expect(all.deadlines[0].overdue && all.deadlines[0].owner == "globex" && all.deadlines[0].agreement == late)
            #expect(all.deadlines[1].agreement == expiring && all.deadlines[1].date == inFiveDays)
            #expect(all.deadlines[1].daysLeft == (try Self.daysLeft(all, to: inFiveDays)))
            #expect(all.deadlines[2].date == inTenDays && !all.deadlines[2].overdue)
            #expect(all.deadlines[2].daysLeft == (try Self.daysLeft(all, to: inTenDays)))
            let soon: DeadlinesResponse = try await acme.json("agreements", "due", "--within", "7d")
            #expect(soon.deadlines.count == 2)
            let overdue: DeadlinesResponse = try await acme.json("agreements", "due", "--overdue")
            #expect(overdue.deadlines.map(\.description) == ["Support desk staffed"])
            let table = try await acme.ctl("agreements", "due")
            #expect(table.stdout.contains("overdue") && table.stdout.contains("agreement expires"), "\(table.stdout)")

            let status: NodeStatus = try await acme.json("status")
            #expect(status.commitmentsOverdue == 1 && status.agreementsExpiringSoon == 1)
            let metrics = try await acme.admin().get("/metrics").text
            #expect(metrics.contains("accord_commitments_overdue 1") && metrics.contains("accord_agreements_expiring{within=\"30d\"} 1"))
        }
    }

    @Test("a deadline passing while the node runs is announced once; what was past at start is the baseline")
    func announcements() {
        let (a, b) = (AgreementID(UUIDBytes(high: 1, low: 1)), AgreementID(UUIDBytes(high: 2, low: 2)))
        let c = CommitmentID(UUIDBytes(high: 3, low: 3))
        let overdue = Deadline(
            kind: .commitment, date: CalendarDate(iso8601: "2020-01-31")!, agreement: a, title: "T", commitment: c, owner: "globex", description: "Desk"
        )
        let expired = Deadline(kind: .expiry, date: CalendarDate(iso8601: "2020-01-31")!, agreement: b, title: "U")
        let (atStart, baseline) = DeadlineWatch.news(known: nil, past: [overdue])
        #expect(atStart.isEmpty, "nothing is announced at start")
        let (later, known) = DeadlineWatch.news(known: baseline, past: [overdue, expired])
        #expect(later.map(\.type) == [.agreementExpired] && later.first?.agreement == b.description)
        let (again, _) = DeadlineWatch.news(known: known, past: [overdue, expired])
        #expect(again.isEmpty, "announced once")
        let (first, _) = DeadlineWatch.news(known: [], past: [overdue])
        #expect(first.first?.type == .commitmentOverdue && first.first?.organisation == "globex" && first.first?.commitment == c.description)
    }
}
