import AccordCrypto
import AccordModel
import AccordSync
import AccordTestSupport
import Foundation
import Testing

/// What protocol version 5 adds (docs/vectors/protocol-v5.json): the edits of trust rules 6–9 —
/// steps of fulfilment, a void, consent to and removal of a party, agreement to a termination —
/// the fields they read (an amount, a schedule, a notice period), terms of encoding version 2,
/// the replica state that results, and changes each rule refuses, with the code. Signed with the
/// test keys of protocol-v1.json; rebuilt and compared like the other vectors
/// (`ACCORD_WRITE_VECTORS=1` rewrites it).
@Suite("Conformance vectors, version 5")
struct AgreementRulesVectorTests {
    static let file = "\(ConformanceVectorTests.folder)/protocol-v5.json"

    struct VersionFive: Codable, Equatable {
        var format: String
        /// Accepted changes in order, then refused ones (each judged against the history before
        /// the change named in its first dependency's vector; `outcome` says the code).
        var changes: [ConformanceVectorTests.Vectors.ChangeVector]
        var terms: ConformanceVectorTests.Vectors.TermsVector
        var replicaState: String
        /// What the state says, for reading the vectors: status on 2027-02-15, the day the
        /// termination takes effect, each commitment's (or period's) state.
        var summary: [String: String]
    }

    static func build(reusing committed: VersionFive?) throws -> VersionFive {
        let one = try #require(ConformanceVectorTests.load(), "protocol-v1.json and protocol-v2.json")
        var keys: [NodeID: P256PrivateKey] = [:]
        for key in one.keys { keys[try #require(NodeID(key.node))] = try P256PrivateKey(pemRepresentation: key.privateKeyPEM) }
        let (acme, globex) = (NodeID(organisation: "acme", name: "n1")!, NodeID(organisation: "globex", name: "n1")!)
        let previous = Dictionary((committed?.changes ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

        /// The committed signature for `name` if it still verifies over `message` (ECDSA is randomised).
        func signature(_ name: String, _ message: [UInt8], by node: NodeID, _ field: (ConformanceVectorTests.Vectors.ChangeVector) -> String?) throws -> P256Signature {
            let key = keys[node]!
            if let old = previous[name].flatMap(field).flatMap(HexEncoding.decode).flatMap({ try? P256Signature(rawRepresentation: $0) }),
                key.publicKey.isValidSignature(old, for: message)
            {
                return old
            }
            return try key.signature(for: message)
        }

        var replica = AgreementReplica(id: AgreementID(UUIDBytes(high: 0, low: 0)))
        var byName: [String: Change] = [:]
        var vectors: [ConformanceVectorTests.Vectors.ChangeVector] = []
        func date(_ text: String) -> CalendarDate { CalendarDate(iso8601: text)! }
        let subsidy = CommitmentID(UUIDBytes(high: 0x0123_4567_89ab_4cde, low: 0x8f01_2345_6789_0001))
        let hours = CommitmentID(UUIDBytes(high: 0x0123_4567_89ab_4cde, low: 0x8f01_2345_6789_0002))

        /// Makes and signs one change on `dependencies` (names); applies it to `target` and records
        /// its vector with the outcome, which must be `expected` (nil: accepted).
        func add(
            _ name: String, by author: NodeID, at second: UInt64, after dependencies: [String], _ edits: [Edit],
            refusedFor expected: ChangeRejection.Code? = nil
        ) throws {
            let stamp = Stamp(millis: 1_800_000_000_000 + second * 1000, counter: 0, node: author)
            let change =
                dependencies.isEmpty
                ? try Change.genesis(stamp: stamp, edits: edits)
                : try Change(agreement: replica.id, stamp: stamp, dependencies: dependencies.map { byName[$0]!.id }, edits: edits)
            let message = SignedChange.signedMessage(for: change)
            let signed = SignedChange(change: change, signature: try signature(name, message, by: author) { $0.signature })
            if dependencies.isEmpty { replica = AgreementReplica(id: change.agreement) }
            var judged = replica
            let outcome = judged.apply(VerifiedChange(fromTrustedLog: signed), nowMillis: .max).outcome
            let described: String
            switch (outcome, expected) {
            case (.accepted, nil):
                replica = judged
                byName[name] = change
                described = "accepted"
            case (.rejected(let rejection), let code?) where rejection.code == code:
                described = "rejected: \(code)"
            default:
                throw TestFailure("vector change \(name): \(outcome), expected \(expected.map { "\($0)" } ?? "accepted")")
            }
            vectors.append(.init(
                name: name, author: author.description, stamp: "\(stamp.millis).\(stamp.counter)@\(author)",
                dependencies: change.dependencies.map(\.hex), edits: edits.map(ConformanceVectorTests.structured),
                canonical: HexEncoding.encode(change.canonicalBytes), id: change.id.hex, agreement: change.agreement.description,
                signedMessage: HexEncoding.encode(message), signature: HexEncoding.encode(signed.signature.rawRepresentation),
                signed: HexEncoding.encode(signed.encoded), outcome: described
            ))
        }
        func approve(_ name: String, by node: NodeID, at second: UInt64, after dependencies: [String]) throws -> (SHA256Digest, P256Signature) {
            let termsHash = replica.agreement.termsHash
            let message = Approval.signedMessage(agreement: replica.id, termsHash: termsHash)
            let approval = try signature(name, message, by: node) { $0.edits.first?["signature"] }
            try add(name, by: node, at: second, after: dependencies, [.approve(organisation: node.organisation, termsHash: termsHash, signature: approval)])
            return (termsHash, approval)
        }

        // A draft with a misspelt third party, a notice period, an amount and a recurring commitment.
        try add("genesis", by: acme, at: 0, after: [], [
            .set(.title, .text("GPU capacity for the joint pilot")), .set(.category, .category(.technicalResources)),
            .set(.noticePeriod, .days(30)), .addParty("acme"), .addParty("globex"), .addParty("contosso"),
        ])
        try add("commitments", by: acme, at: 1, after: ["genesis"], [
            .set(.commitment(subsidy, .by), .organisation("globex")), .set(.commitment(subsidy, .kind), .commitmentKind(.rdSubsidy)),
            .set(.commitment(subsidy, .description), .text("R&D subsidy for the pilot")),
            .set(.commitment(subsidy, .amount), .amount(Amount(currency: "EUR", decimal: "40000.50"))),
            .set(.commitment(hours, .by), .organisation("acme")), .set(.commitment(hours, .kind), .commitmentKind(.freeResource)),
            .set(.commitment(hours, .description), .text("2,000 GPU hours per month")),
            .set(.commitment(hours, .amount), .amount(Amount(currency: "EUR", decimal: "2000"))),
            .set(.commitment(hours, .schedule), .schedule(Schedule(every: .monthly, from: date("2027-01-31"), until: date("2027-03-31")))),
        ])
        try add("removal without consent", by: acme, at: 2, after: ["commitments"], [.removeParty("contosso")], refusedFor: .removalWithoutConsent)
        try add("consent to removal", by: globex, at: 2, after: ["commitments"], [.consentToRemoval("contosso")])
        try add("removal", by: acme, at: 3, after: ["consent to removal"], [.removeParty("contosso")])
        let termsAfterRemoval = replica.agreement.terms
        let (termsHash, acmeApproval) = try approve("approve by acme", by: acme, at: 4, after: ["removal"])
        _ = try approve("approve by globex", by: globex, at: 5, after: ["approve by acme"])
        try add("void after approval", by: acme, at: 6, after: ["approve by globex"], [.void(reason: "a duplicate")], refusedFor: .voidRefused)
        try add("confirm unclaimed", by: acme, at: 6, after: ["approve by globex"], [.progress(subsidy, period: nil, step: .confirm, text: "")], refusedFor: .progressOutOfOrder)
        try add("claim", by: globex, at: 6, after: ["approve by globex"], [.progress(subsidy, period: nil, step: .claim, text: "Paid on 3 March")])
        try add("confirm own claim", by: globex, at: 7, after: ["claim"], [.progress(subsidy, period: nil, step: .confirm, text: "")], refusedFor: .progressByWrongParty)
        try add("waive by the owing party", by: globex, at: 7, after: ["claim"], [.progress(subsidy, period: nil, step: .waive, text: "")], refusedFor: .progressByWrongParty)
        try add("dispute", by: acme, at: 7, after: ["claim"], [.progress(subsidy, period: nil, step: .dispute, text: "Only EUR 20,000 arrived")])
        try add("claim again", by: globex, at: 8, after: ["dispute"], [.progress(subsidy, period: nil, step: .claim, text: "The rest paid on 9 March")])
        try add("confirm", by: acme, at: 9, after: ["claim again"], [.progress(subsidy, period: nil, step: .confirm, text: "")])
        try add("claim a day that is no period", by: acme, at: 10, after: ["confirm"], [.progress(hours, period: date("2027-02-01"), step: .claim, text: "")], refusedFor: .unknownPeriod)
        // 31 January monthly: the second period falls on the last day of February.
        try add("claim a period", by: acme, at: 10, after: ["confirm"], [.progress(hours, period: date("2027-02-28"), step: .claim, text: "2,000 hours in February")])
        try add("confirm a period", by: globex, at: 11, after: ["claim a period"], [.progress(hours, period: date("2027-02-28"), step: .confirm, text: "")])
        try add("agree to no termination", by: globex, at: 12, after: ["confirm a period"], [.agreeTermination(reason: "")], refusedFor: .noTerminationToAgree)
        try add("terminate with notice", by: acme, at: 12, after: ["confirm a period"], [.terminate(reason: "The pilot ends")])
        try add("agree to the termination", by: globex, at: 13, after: ["terminate with notice"], [.agreeTermination(reason: "Agreed")])
        try add("edit after the termination", by: acme, at: 14, after: ["agree to the termination"], [.set(.title, .text("Renamed"))], refusedFor: .editAfterTermination)

        let agreement = replica.agreement
        let message = Approval.signedMessage(agreement: replica.id, termsHash: termsHash)
        let summary = [
            "status on 2027-02-15": agreement.status(on: date("2027-02-15")).rawValue,
            "termination given on": agreement.termination?.givenOn.description ?? "none",
            "termination takes effect without agreement": agreement.termination?.takesEffectOn.description ?? "none",
            "terminates on (every party agreed)": agreement.terminatesOn?.description ?? "none",
            "parties": agreement.parties.map(\.rawValue).joined(separator: ", "),
            "subsidy": agreement.commitments.first { $0.id == subsidy }!.state.name,
            "hours, period 2027-02-28": agreement.commitments.first { $0.id == hours }!.progress(of: date("2027-02-28")).state.name,
            "hours, period 2027-01-31": agreement.commitments.first { $0.id == hours }!.progress(of: date("2027-01-31")).state.name,
            "totals": agreement.totals.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.map(\.description).joined(separator: ", "))" }.joined(separator: "; "),
        ]
        return VersionFive(
            format: "What Accord protocol version 5 adds to version 4 (protocol-v1.json … protocol-v4.json): the edits of trust rules 6-9, amounts, schedules, notice periods, terms encoding version 2 and replica state encoding version 2 (docs/encoding.md, docs/design.md); hex is lower case; signed with the test keys of protocol-v1.json",
            changes: vectors,
            terms: .init(
                after: "removal", encoding: HexEncoding.encode(termsAfterRemoval.canonicalEncoding), hash: termsHash.hex,
                approvalMessage: HexEncoding.encode(message), approvalSignature: HexEncoding.encode(acmeApproval.rawRepresentation)
            ),
            replicaState: HexEncoding.encode(replica.state.canonicalEncoding),
            summary: summary
        )
    }

    @Test("every vector of protocol-v5.json is what the code produces: accepted changes, refused ones with their rule, terms and state of version 2")
    func vectorsMatchTheCode() throws {
        guard let file = try ConformanceVectorTests.checked(Self.file, build: Self.build(reusing:)) else { return }
        #expect(file.summary["status on 2027-02-15"] == "terminated", "every party agreed: it ended at once")
        #expect(file.summary["parties"] == "acme, globex")
        #expect(file.summary["subsidy"] == "fulfilled")
        #expect(file.changes.filter { $0.outcome.hasPrefix("rejected") }.count == 8)
        // Terms of version 2 carry the domain tag of version 2; version 1 ones are unchanged (protocol-v1.json).
        #expect(file.terms.encoding.hasPrefix(HexEncoding.encode(Array("accord/terms/v2\n".utf8)) + "02"))
    }
}
