import AccordAdminAPI
import AccordCrypto
@testable import AccordDaemon
import AccordModel
import AccordStore
import Testing

/// The pure parts under the console's work: differences between terms, the history in words, the
/// forms' edits, the overview's views, readable dates.
@Suite("Console work: pure parts")
struct ConsoleWorkTests {
    static let acme = NodeID(organisation: "acme", name: "n1")!
    static let commitment = CommitmentID(uuidString: "3fb4091a-ab5a-4c1e-9a4e-0123456789ab")!

    static func terms(_ edits: [Edit]) throws -> Terms {
        let signer = ChangeSigner(node: acme, key: try P256PrivateKey.generate())
        var clock = HybridLogicalClock(node: acme)
        let genesis = try signer.sign(Change.genesis(stamp: clock.stamp(physicalMillis: 1_800_000_000_000), edits: edits))
        var replica = AgreementReplica(id: genesis.change.agreement, configuration: ReplicaConfiguration())
        _ = replica.apply(genesis, nowMillis: 1_800_000_000_000)
        return replica.agreement.terms
    }

    static let base: [Edit] = [
        .set(.title, .text("GPU lab")), .set(.category, .category(.technicalResources)), .addParty("acme"), .addParty("globex"),
        .set(.expiresOn, .date(CalendarDate(year: 2027, month: 12, day: 31))),
        .set(.commitment(commitment, .by), .organisation("acme")), .set(.commitment(commitment, .kind), .commitmentKind(.freeResource)),
        .set(.commitment(commitment, .description), .text("2,000 GPU hours per month")),
        .set(.commitment(commitment, .dueDate), .date(CalendarDate(year: 2027, month: 3, day: 31))),
    ]

    @Test("a difference names each field that changed, in the order of the terms, with before and after; the same terms differ in nothing")
    func difference() throws {
        let older = try Self.terms(Self.base)
        var changed = Self.base
        changed[0] = .set(.title, .text("GPU lab II"))
        changed[4] = .set(.expiresOn, .date(CalendarDate(year: 2028, month: 6, day: 30)))
        changed[8] = .set(.commitment(Self.commitment, .dueDate), .date(CalendarDate(year: 2027, month: 4, day: 30)))
        changed.append(.addParty("initech"))
        changed.append(.set(.framework(.dataProtection), .text("EU only")))
        let newer = try Self.terms(changed)
        let difference = TermsDifference(from: older, to: newer)
        #expect(difference.changes.map(\.field) == [
            .title, .party, .framework(.dataProtection), .expiresOn, .commitment(Self.commitment, attribute: .dueDate),
        ])
        let words = Views.difference(difference, older: older, newer: newer).map(\.description)
        #expect(words == [
            "the title changed from “GPU lab” to “GPU lab II”", "initech became a party", "data protection changed from nothing to “EU only”",
            "the end changed from 2027-12-31 to 2028-06-30", "the due date of “2,000 GPU hours per month” changed from 2027-03-31 to 2027-04-30",
        ])
        #expect(TermsDifference(from: older, to: older).isEmpty)
        let removed = TermsDifference(from: older, to: try Self.terms(Array(Self.base.prefix(5))))
        #expect(removed.changes.map(\.field) == [.commitment(Self.commitment, attribute: nil)] && removed.changes[0].after == nil)
    }

    @Test("the history reads as sentences: a new commitment in one, a due date by the commitment's description, states in words")
    func historyWords() {
        let words = HistoryWords([])
        let sentences = words.sentences(Self.base + [.set(.commitment(Self.commitment, .state), .commitmentState(.open))])
        #expect(sentences.first == "set the title to “GPU lab”")
        #expect(sentences.last == "added the commitment “2,000 GPU hours per month” owed by acme (freeResource) due 31 Mar 2027")
        #expect(!sentences.contains { $0.contains("commitment[") }, "no raw field names")
        #expect(words.field("term.expiresOn") == "the end of the term" && words.field("framework.dataProtection") == "data protection")
        #expect(words.field("commitment[\(Self.commitment)].dueDate") == "the due date of “a commitment”")
    }

    @Test("a conflict is resolved by writing its field again: term fields, a commitment's attributes, amount and schedule; its state and an unknown field are refused")
    func resolve() throws {
        #expect(try ConsoleEditing.resolve(field: "title", value: "A") == [.set(.title, .text("A"))])
        #expect(try ConsoleEditing.resolve(field: "term.expiresOn", value: "(none)") == [.set(.expiresOn, .date(nil))])
        let id = Self.commitment.description
        #expect(try ConsoleEditing.resolve(field: "commitment[\(id)].dueDate", value: "2027-01-15")
            == [.set(.commitment(Self.commitment, .dueDate), .date(CalendarDate(year: 2027, month: 1, day: 15)))])
        #expect(try ConsoleEditing.resolve(field: "commitment[\(id)].amount", value: "EUR 40000.5")
            == [.set(.commitment(Self.commitment, .amount), .amount(Amount(currency: "EUR", units: 400005, scale: 1)))])
        let schedule = Schedule(every: .monthly, from: CalendarDate(year: 2027, month: 1, day: 31)!, until: CalendarDate(year: 2027, month: 6, day: 30))
        #expect(try ConsoleEditing.resolve(field: "commitment[\(id)].schedule", value: schedule!.description)
            == [.set(.commitment(Self.commitment, .schedule), .schedule(schedule))])
        // Where a commitment stands is settled by the parties' steps (trust rule 6), not by a choice of value.
        #expect(throws: AdminFailure.self) { try ConsoleEditing.resolve(field: "commitment[\(id)].state", value: "fulfilled") }
        #expect(throws: AdminFailure.self) { try ConsoleEditing.resolve(field: "commitment[\(id)].colour", value: "red") }
        #expect(throws: AdminFailure.self) { try ConsoleEditing.resolve(field: "budget", value: "1") }
    }

    @Test("the overview's views select what waits on us, on partners, what we owe and what is owed to us; dates read as people write them")
    func views() {
        var item = AgreementListItem(id: "a", title: "T", category: nil, parties: ["acme", "globex"], status: "proposed", termsHash: "", changes: 1, conflicts: 0)
        item.approvals = ["acme": "stale", "globex": "approved"]
        item.owing = ["globex"]
        item.expiresOn = "2026-12-20"
        let today = "2026-12-07"
        #expect(ConsolePages.View.waitingOnUs.matches(item, us: "acme", today: today))
        #expect(!ConsolePages.View.waitingOnPartners.matches(item, us: "acme", today: today))
        #expect(ConsolePages.View.owedToUs.matches(item, us: "acme", today: today) && !ConsolePages.View.weOwe.matches(item, us: "acme", today: today))
        #expect(ConsolePages.View.expiring.matches(item, us: "acme", today: today))
        item.approvals?["acme"] = "approved"
        item.approvals?["globex"] = "none"
        #expect(ConsolePages.View.waitingOnPartners.matches(item, us: "acme", today: today) && !ConsolePages.View.waitingOnUs.matches(item, us: "acme", today: today))
        item.status = "terminated"
        #expect(!ConsolePages.View.waitingOnPartners.matches(item, us: "acme", today: today), "a terminated agreement waits on nobody")
        #expect(ReadableTime.moment("2026-12-07T21:48:26.123Z") == "7 Dec 2026, 21:48 UTC")
        #expect(ReadableTime.day("2026-12-04") == "4 Dec 2026" && ReadableTime.day("soon") == "soon")
        #expect(ReadableTime.adding(days: 30, to: "2026-12-07") == "2027-01-06")
    }
}
