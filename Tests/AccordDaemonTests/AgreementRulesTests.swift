import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordSync
import AccordTestSupport
import Foundation
import Testing

/// The agreement rules of protocol version 5 (docs/design.md §4, rules 6–9) through two real
/// accordd processes: fulfilment between the parties, a recurring commitment's periods, a void
/// draft, the removal of a misspelt party, a termination with notice that takes effect on its date
/// (the injected clock), and a change breaking each rule, refused by the node that receives it.
@Suite("Agreement rules between real nodes", .serialized)
struct AgreementRulesTests {
    @Test("claim → dispute → claim → confirm; three periods of a recurring commitment; a void draft; a misspelt party removed, then active; notice that takes effect on its date; a confirmation of one's own claim, a waiver by the owing party and a removal without consent refused at the receiving node")
    func rulesBetweenTwoNodes() async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let (acme, globex) = (nodes[0], nodes[1])
        let clockOffset = "\(acme.folder)/clock-offset"
        acme.options = ["--clock-offset-file", clockOffset]
        try await withNodes(nodes) {
            try await acme.start()
            try await globex.start()
            try await acme.waitForSession(with: "globex/node1")
            func show(_ node: DaemonNode, _ id: String) async throws -> AgreementView { try await node.json("agreements", "show", id) }
            func step(_ node: DaemonNode, _ id: String, _ arguments: String...) async throws {
                let result = try await node.ctl(["agreements", "commitment", id] + arguments)
                #expect(result.succeeded, "\(node.label): \(arguments.joined(separator: " ")): \(result.stderr)")
            }
            /// Waits until `node` shows the agreement as `holds` says.
            func eventuallyShows(_ node: DaemonNode, _ id: String, _ what: String, _ holds: @escaping (AgreementView) -> Bool) async throws {
                try await eventually("\(node.label) shows \(what)", timeout: .seconds(30)) { (try? await show(node, id)).map(holds) ?? false }
            }

            // A draft with a misspelt third party, a notice period, an amount and a recurring commitment.
            let created: CreatedAgreement = try await acme.json(
                "agreements", "create", "--title", "GPU capacity for the joint pilot", "--category", "technicalResources",
                "--party", "acme", "--party", "globex", "--party", "contosso", "--allow-unknown-party", "--notice-period", "30"
            )
            let id = created.id
            let subsidy = try #require(try await acme.json(
                "agreements", "commitment", id, "add", "--by", "globex", "--kind", "rdSubsidy", "--description", "R&D subsidy",
                "--amount", "EUR 40,000.50", as: ChangeReceipt.self
            ).commitment)
            let hours = try #require(try await acme.json(
                "agreements", "commitment", id, "add", "--by", "acme", "--kind", "freeResource", "--description", "2,000 GPU hours per month",
                "--amount", "EUR 2000", "--every", "monthly", "--from", "2027-01-31", "--until", "2027-03-31", as: ChangeReceipt.self
            ).commitment)
            let refusedAmount = try await acme.ctl("agreements", "commitment", id, "update", subsidy, "--amount", "EUR 1.005")
            #expect(!refusedAmount.succeeded && refusedAmount.stderr.contains("EUR has 2 decimals"), "\(refusedAmount.stderr)")

            // The misspelt party can never approve: acme consents to remove it, globex removes it.
            #expect(try await acme.ctl("agreements", "party", id, "remove", "contosso").succeeded)
            try await eventuallyShows(globex, id, "acme's consent to remove contosso") { $0.removalConsents?["contosso"] == ["acme"] }
            #expect(try await globex.ctl("agreements", "party", id, "remove", "contosso").succeeded)
            try await eventuallyShows(acme, id, "contosso removed") { $0.parties == ["acme", "globex"] }
            #expect(try await acme.ctl("agreements", "approve", id).succeeded)
            try await eventuallyShows(globex, id, "acme's approval") { $0.approvals.count == 1 }
            #expect(try await globex.ctl("agreements", "approve", id).succeeded)
            try await eventuallyShows(acme, id, "the agreement active") { $0.status == "active" }
            let totals = try await show(acme, id).totals?.map { "\($0.party) \($0.currency) \($0.amount)" }
            #expect(totals == ["acme EUR 6000", "globex EUR 40000.5"], "three periods of EUR 2,000, and the subsidy")

            // Fulfilment between the parties: globex claims, acme disputes, globex claims again, acme confirms.
            try await step(globex, id, "claim", subsidy, "--text", "Paid on 3 March")
            try await eventuallyShows(acme, id, "globex's claim") { $0.commitments.first { $0.id == subsidy }?.state == "claimed" }
            let beforeDispute = try await show(acme, id)
            try await step(acme, id, "dispute", subsidy, "--text", "Only EUR 20,000 arrived")
            try await eventuallyShows(globex, id, "acme's dispute") { $0.commitments.first { $0.id == subsidy }?.state == "disputed" }
            try await step(globex, id, "claim", subsidy, "--text", "The rest paid on 9 March")
            try await eventuallyShows(acme, id, "the second claim") { $0.commitments.first { $0.id == subsidy }?.state == "claimed" }
            try await step(acme, id, "confirm", subsidy)
            try await eventuallyShows(globex, id, "the subsidy fulfilled") { $0.commitments.first { $0.id == subsidy }?.state == "fulfilled" }
            let fulfilled = try #require(try await show(globex, id).commitments.first { $0.id == subsidy }?.progress)
            #expect(fulfilled.by?.hasSuffix("via acme/node1") == true && fulfilled.state == "fulfilled", "who confirmed, as every node shows it")

            // Three periods of the recurring commitment, each claimed by acme and confirmed by globex.
            let due: DeadlinesResponse = try await acme.json("agreements", "due", "--within", "800d")
            #expect(due.deadlines.filter { $0.commitment == hours }.map(\.period) == ["2027-01-31", "2027-02-28", "2027-03-31"], "\(due.deadlines)")
            for period in ["2027-01-31", "2027-02-28", "2027-03-31"] {
                try await step(acme, id, "claim", hours, "--period", period)
                try await eventuallyShows(globex, id, "the claim of \(period)") { view in
                    view.commitments.first { $0.id == hours }?.periods?.first { $0.period == period }?.state == "claimed"
                }
                try await step(globex, id, "confirm", hours, "--period", period)
            }
            try await eventuallyShows(acme, id, "the three periods fulfilled") { view in
                view.commitments.first { $0.id == hours }?.periods?.filter { $0.state == "fulfilled" }.count == 3
            }
            #expect(try await acme.json("agreements", "due", "--within", "800d", as: DeadlinesResponse.self).deadlines.isEmpty)

            // The evidence bundle proves the steps, the removal and the terms of version 2 with sh and openssl.
            let bundle = "\(acme.folder)/evidence"
            #expect(try await acme.ctl("agreements", "evidence", id, "--out", bundle).succeeded)
            let verified = try await EvidenceTests.verify(bundle)
            #expect(verified.termination == .exited(0), "\(verified.stdout)\n\(verified.stderr)")
            let history = try String(contentsOfFile: "\(bundle)/history.txt", encoding: .utf8)
            for line in ["consent to removing party contosso", "remove party contosso", "dispute commitment \(subsidy) for period (none), saying \"Only EUR 20,000 arrived\"",
                         "claim commitment \(hours) for period 2027-02-28"] {
                #expect(history.contains(line), "history.txt says: \(line)")
            }
            let terms = try String(contentsOfFile: "\(bundle)/current/terms.txt", encoding: .utf8)
            #expect(terms.contains("amount EUR 40000.5, recurring (none)") && terms.contains("notice period: 30 days"), "\(terms)")

            // A draft created by mistake is voided: gone from the default list, kept under its status.
            let duplicate = try await acme.createAgreement("GPU capacity (duplicate)", parties: ["acme", "globex"])
            #expect(try await acme.ctl("agreements", "void", duplicate, "--reason", "a duplicate").succeeded)
            try await eventuallyShows(globex, duplicate, "the draft void") { $0.status == "void" }
            #expect(!(try await globex.agreementIDs()).contains(duplicate))
            #expect(try await globex.json("agreements", "list", "--status", "void", as: [AgreementListItem].self).map(\.id) == [duplicate])

            // Changes that break the rules, made by a node of globex and sent to acme: each refused
            // there with its reason. (globex's own node would not author them.)
            let rebel = try await acme.createAgreement("Three parties", parties: ["acme", "globex", "initech"])
            try await eventuallyShows(globex, rebel, "the three-party draft") { _ in true }
            try await globex.stop()
            let forger = try HostileClient(certificate: "globex-node1")
            func forged(_ agreement: String, after view: AgreementView, _ edits: [Edit]) throws -> [UInt8] {
                let heads = view.heads.compactMap { HexEncoding.decode($0).flatMap { ChangeID(bytes: $0) } }
                return try forger.forge(Change(
                    agreement: try #require(AgreementID(uuidString: agreement)), stamp: Stamp(millis: HostileClient.clock(), counter: 0, node: forger.node),
                    dependencies: heads, edits: edits
                )).encoded
            }
            let subsidyID = try #require(CommitmentID(uuidString: subsidy))
            let attempts = [
                // globex confirming its own claim (as of the claim acme had disputed).
                try forged(id, after: beforeDispute, [.progress(subsidyID, period: nil, step: .confirm, text: "")]),
                // globex waiving what it owes.
                try forged(id, after: try await show(acme, id), [.progress(subsidyID, period: nil, step: .waive, text: "")]),
                // globex removing initech without acme's consent.
                try forged(rebel, after: try await show(acme, rebel), [.removeParty("initech")]),
            ]
            let acknowledged = try await forger.session(port: acme.port) { session in
                for (batch, change) in attempts.enumerated() { try await session.send(.changes(batch: UInt32(batch), encoded: [change])) }
                var acknowledged = 0
                while acknowledged < attempts.count, let message = try await session.next() {
                    if case .acknowledged = message { acknowledged += 1 }
                }
                return acknowledged
            }
            #expect(acknowledged == attempts.count)
            #expect(try await acme.metric("accord_changes_rejected_total", reason: "progress-by-wrong-party") == 2)
            #expect(try await acme.metric("accord_changes_rejected_total", reason: "removal-without-consent") == 1)
            let refusedThere = try await show(acme, id).rejected.map(\.message) + (try await show(acme, rebel)).rejected.map(\.message)
            #expect(refusedThere.contains { $0.contains("globex owes commitment") && $0.contains("cannot confirm") }, "\(refusedThere)")
            #expect(refusedThere.contains { $0.contains("cannot waive") }, "\(refusedThere)")
            #expect(refusedThere.contains { $0.contains("needs the consent of every other party") && $0.contains("acme") }, "\(refusedThere)")
            #expect(try await show(acme, rebel).parties == ["acme", "globex", "initech"])
            #expect(try await show(acme, id).commitments.first { $0.id == subsidy }?.state == "fulfilled")

            // Notice: acme terminates; the agreement is terminating for 30 days, then terminated
            // on its date — acme's injected clock moved 31 days on.
            try await globex.start()
            #expect(try await acme.ctl("agreements", "terminate", id, "--reason", "The pilot ends").succeeded)
            let terminating = try await show(acme, id)
            let takesEffect = try #require(terminating.terminatesOn)
            let today = CalendarDate(unixMillis: UInt64(Date().timeIntervalSince1970 * 1000))
            #expect(terminating.status == "terminating" && takesEffect == today.adding(days: 30).description, "\(terminating.status) \(takesEffect)")
            try await eventuallyShows(globex, id, "the notice") { $0.status == "terminating" && $0.terminatesOn == takesEffect }
            try "\(31 * 86_400_000)".write(toFile: clockOffset, atomically: true, encoding: .utf8)
            try await eventually("acme's clock moved on", timeout: .seconds(30)) { (try? await show(acme, id))?.status == "terminated" }
            #expect(try await show(globex, id).status == "terminating", "globex's clock has not reached the date")
        }
    }
}
