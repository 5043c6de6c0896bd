public import AccordCrypto
public import AccordModel

/// Counts of what the generated histories exercised, printed per batch so a CI log shows the
/// property was tested on histories that reached the interesting cases.
public struct HistoryStatistics: CustomStringConvertible, Sendable {
    public var accepted = 0
    public var rejected = 0
    public var heldForSkew = 0
    public var heldForDependencies = 0
    public var historiesWithConflicts = 0
    public var historiesWithTermination = 0
    public var lateJoinerChanges = 0
    /// Histories whose agreement ended with a step of fulfilment, a removed party, a void, a
    /// termination that every party agreed to (the rules of protocol version 5).
    public var historiesWithSteps = 0
    /// Accepted changes that step a commitment (more frequent than histories with one).
    public var stepsAccepted = 0
    public var historiesWithRemoval = 0
    public var historiesVoided = 0
    public var historiesWithTerminationAgreed = 0
    public var codes: [String: Int] = [:]

    public init() {}

    public var description: String {
        "accepted \(accepted), rejected \(rejected) "
            + "(\(codes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), "
            + "held for skew \(heldForSkew), held for dependencies \(heldForDependencies), "
            + "histories with conflicts \(historiesWithConflicts), with termination \(historiesWithTermination), "
            + "changes by late-added parties \(lateJoinerChanges), with steps of fulfilment \(historiesWithSteps), "
            + "with a party removed \(historiesWithRemoval), voided \(historiesVoided), with a termination agreed \(historiesWithTerminationAgreed)"
    }

    public mutating func add(_ other: HistoryStatistics) {
        accepted += other.accepted
        rejected += other.rejected
        heldForSkew += other.heldForSkew
        heldForDependencies += other.heldForDependencies
        historiesWithConflicts += other.historiesWithConflicts
        historiesWithTermination += other.historiesWithTermination
        lateJoinerChanges += other.lateJoinerChanges
        historiesWithSteps += other.historiesWithSteps
        stepsAccepted += other.stepsAccepted
        historiesWithRemoval += other.historiesWithRemoval
        historiesVoided += other.historiesVoided
        historiesWithTerminationAgreed += other.historiesWithTerminationAgreed
        codes.merge(other.codes, uniquingKeysWith: +)
    }
}

/// One seeded history: 3–5 nodes of 2–4 organisations editing one agreement with partial,
/// out-of-order, duplicated gossip, skewed clocks, and some changes the rules must refuse.
public struct RandomHistory {
    public static let organisations: [OrganisationID] = ["acme", "globex", "initech", "umbrella"]
    public static let skew: UInt64 = 60_000

    public let seed: UInt64
    public var random: SplitMix64
    public var nodes: [TestNode] = []
    public var clockOffsets: [Int64] = []
    public var organisations: [OrganisationID] = []
    public var pool: [VerifiedChange] = []
    public var agreement: AgreementID?
    public var now: UInt64 = ThreeCompanies.start
    public var statistics = HistoryStatistics()
    /// Organisations that were not parties at creation.
    public var lateJoiners: Set<OrganisationID> = []

    public init(seed: UInt64) {
        self.seed = seed
        random = SplitMix64(seed: seed)
        organisations = Array(Self.organisations.prefix(Int.random(in: 2...4, using: &random)))
        let nodeCount = Int.random(in: 3...5, using: &random)
        for index in 0..<nodeCount {
            var node = TestNode(organisations[index % organisations.count], "n\(index)", key: TestKeys.pool[index])
            node.replica = Replica(configuration: ReplicaConfiguration(maximumClockSkewMillis: Self.skew))
            nodes.append(node)
            clockOffsets.append(Int64.random(in: -2_000...2_000, using: &random))
        }
        if Double.random(in: 0..<1, using: &random) < 0.3 {
            clockOffsets[Int.random(in: 0..<nodeCount, using: &random)] = 3 * Int64(Self.skew)
        }
    }

    public func localTime(of node: Int) -> UInt64 { UInt64(Int64(now) + clockOffsets[node]) }

    public mutating func run() throws {
        let creator = nodes[0].organisation
        var initial: Set<OrganisationID> = [creator]
        let others = organisations.filter { $0 != creator }
        initial.insert(others.randomElement(using: &random)!)
        for organisation in others where Bool.random(using: &random) { initial.insert(organisation) }
        lateJoiners = Set(organisations).subtracting(initial)
        let genesis = try nodes[0].create(
            [.set(.title, .text("Partnership \(seed)")), .set(.category, .category(.fullSupport))]
                + initial.sorted().map { .addParty($0) },
            at: localTime(of: 0)
        )
        agreement = genesis.change.agreement
        pool.append(genesis)

        for _ in 0..<Int.random(in: 20...50, using: &random) {
            now += UInt64.random(in: 0...40, using: &random)
            let node = Int.random(in: 0..<nodes.count, using: &random)
            if Double.random(in: 0..<1, using: &random) < 0.4 {
                gossip(to: node)
            } else {
                try author(at: node)
            }
            if Double.random(in: 0..<1, using: &random) < 0.1 {
                _ = nodes[node].replica.releaseHeld(nowMillis: localTime(of: node))
            }
        }
    }

    /// Delivers a random part of everything made so far, shuffled, some of it twice.
    public mutating func gossip(to node: Int) {
        var deliveries = pool.shuffled(using: &random).prefix(Int.random(in: 0...pool.count, using: &random))
        if let duplicate = deliveries.randomElement(using: &random) { deliveries.append(duplicate) }
        for change in deliveries { deliver(change, to: node) }
    }

    public mutating func deliver(_ change: VerifiedChange, to node: Int) {
        let result = nodes[node].receive(change, at: localTime(of: node))
        switch result.outcome {
        case .held(.stampedAhead): statistics.heldForSkew += 1
        case .held(.missingDependencies): statistics.heldForDependencies += 1
        default: break
        }
    }

    public mutating func author(at index: Int) throws {
        guard let agreement, let view = nodes[index].replica[agreement], view.exists else { return }
        let edits = randomEdits(by: nodes[index], view: view.agreement, agreement: agreement)
        let change: VerifiedChange
        do {
            change = try nodes[index].craft(agreement, edits, at: localTime(of: index))
        } catch let rejection as ChangeRejection where rejection.code == .malformed {
            return  // The generator combined edits a change may not carry together; skip it.
        }
        if lateJoiners.contains(nodes[index].organisation) { statistics.lateJoinerChanges += 1 }
        pool.append(change)
        deliver(change, to: index)
    }

    public mutating func randomEdits(by node: TestNode, view: Agreement, agreement: AgreementID) -> [Edit] {
        if Double.random(in: 0..<1, using: &random) < 0.12 {
            let id = CommitmentID.random(using: &random)
            return [
                .set(.commitment(id, .by), .organisation(organisations.randomElement(using: &random)!)),
                .set(.commitment(id, .kind), .commitmentKind(CommitmentKind.allCases.randomElement(using: &random)!)),
                .set(.commitment(id, .description), .text("commitment \(id)")),
            ]
        }
        return (0..<Int.random(in: 1...3, using: &random)).map { _ in randomEdit(by: node, view: view, agreement: agreement) }
    }

    public mutating func randomEdit(by node: TestNode, view: Agreement, agreement: AgreementID) -> Edit {
        let words = ["alpha", "beta", "gamma", "delta"]
        let someOrganisation = organisations.randomElement(using: &random)!
        switch Int.random(in: 0..<132, using: &random) {
        case 0..<14:
            return .set(.title, .text(words.randomElement(using: &random)!))
        case 14..<20:
            return .set(.category, .category(Category.allCases.randomElement(using: &random)!))
        case 20..<32:
            let dimension = FrameworkDimension.allCases.randomElement(using: &random)!
            return .set(.framework(dimension), .text(words.randomElement(using: &random)!))
        case 32..<37:
            let date = Bool.random(using: &random) ? CalendarDate(year: 2027, month: Int.random(in: 1...12, using: &random), day: 1) : nil
            return .set(Bool.random(using: &random) ? .effectiveFrom : .expiresOn, .date(date))
        case 37..<40:
            // One edit of a creation; the full creation is three, which a change may carry.
            return .set(.commitment(CommitmentID.random(using: &random), .by), .organisation(someOrganisation))
        case 40..<55:
            guard let commitment = view.commitments.randomElement(using: &random) else { return .note("nothing to edit") }
            return Bool.random(using: &random)
                ? .set(.commitment(commitment.id, .state), .commitmentState([.open, .fulfilled, .waived].randomElement(using: &random)!))
                : .removeCommitment(commitment.id)
        case 55..<64:
            return .addParty(someOrganisation)
        case 64..<67:
            return .withdrawParty(Double.random(in: 0..<1, using: &random) < 0.7 ? node.organisation : someOrganisation)
        case 67..<84:
            let approver = Double.random(in: 0..<1, using: &random) < 0.85 ? node.organisation : someOrganisation
            let signature = try! node.signer.approvalSignature(agreement: agreement, termsHash: view.termsHash)
            return .approve(organisation: approver, termsHash: view.termsHash, signature: signature)
        case 84..<97:
            return .note(words.randomElement(using: &random)!)
        case 97..<100:
            return .terminate(reason: words.randomElement(using: &random)!)
        default:
            return randomRuleEdit(by: node, view: view, someOrganisation: someOrganisation)
        }
    }

    /// The edits of trust rules 6–9 and the fields they read, right and wrong in about the
    /// proportions that make every rule both pass and refuse.
    mutating func randomRuleEdit(by node: TestNode, view: Agreement, someOrganisation: OrganisationID) -> Edit {
        let commitment = view.commitments.randomElement(using: &random)
        let start = CalendarDate(year: 2027, month: 1, day: 31)!
        // Removals mostly aim at a party that has not approved, as a correction would.
        let unapproved = view.parties.filter { view.approvals[$0] == nil && $0 != node.organisation }
        let target = Double.random(in: 0..<1, using: &random) < 0.8 ? unapproved.randomElement(using: &random) ?? someOrganisation : someOrganisation
        // A removal under way draws the other parties' consents, as it would among people.
        if let (pending, consenting) = view.removalConsents.first, Double.random(in: 0..<1, using: &random) < 0.5 {
            let others = Set(view.parties).subtracting([pending, node.organisation])
            return others.isSubset(of: consenting) ? .removeParty(pending) : .consentToRemoval(pending)
        }
        switch Int.random(in: 0..<36, using: &random) {
        case 0..<14:
            guard let commitment else { return .note("nothing to step") }
            let step = ProgressStep.allCases.randomElement(using: &random)!
            // Mostly a period of the schedule the author sees; sometimes none, or a wrong day.
            var period: CalendarDate?
            if let schedule = commitment.schedule, Double.random(in: 0..<1, using: &random) < 0.85 {
                period = schedule.periods().prefix(3).randomElement(using: &random)
            } else if Double.random(in: 0..<1, using: &random) < 0.1 {
                period = start.adding(days: 1)
            }
            return .progress(commitment.id, period: period, step: step, text: step == .dispute ? "not received" : "")
        case 14..<17:
            guard let commitment else { return .note("nothing to price") }
            return .set(.commitment(commitment.id, .amount), .amount(Amount(currency: ["EUR", "USD"].randomElement(using: &random)!, units: Int64.random(in: 1...9_999, using: &random) * 10 + 1, scale: 1)))
        case 17..<20:
            guard let commitment else { return .note("nothing to schedule") }
            let schedule = Bool.random(using: &random) ? Schedule(every: Recurrence.allCases.randomElement(using: &random)!, from: start, until: nil) : nil
            return .set(.commitment(commitment.id, .schedule), .schedule(schedule))
        case 20..<22:
            return .set(.noticePeriod, .days(Bool.random(using: &random) ? Int.random(in: 0...90, using: &random) : nil))
        case 22..<24:
            return .void(reason: "a duplicate")
        case 24..<29:
            return .consentToRemoval(target)
        case 29..<33:
            return .removeParty(target)
        default:
            return .agreeTermination(reason: "agreed")
        }
    }


    /// Gives every node every change, in its own order with duplicates, and lets every clock pass
    /// the skew, so that all replicas should now be identical.
    public mutating func deliverEverythingEverywhere() {
        now += 4 * Self.skew
        for node in nodes.indices {
            var everything = pool + pool.shuffled(using: &random).prefix(pool.count / 3)
            everything.shuffle(using: &random)
            for change in everything { deliver(change, to: node) }
            _ = nodes[node].replica.releaseHeld(nowMillis: localTime(of: node))
        }
    }

    /// Every change in the pool: accepted, or the code it was rejected with.
    public func verdicts(_ replica: AgreementReplica) -> [ChangeID: String] {
        Dictionary(uniqueKeysWithValues: pool.map { change in
            (change.id, replica.isAccepted(change.id) ? "accepted" : replica.rejected[change.id].map { "\($0.code)" } ?? "unknown")
        })
    }

    /// Adds what the reference replica ended with to the statistics.
    public mutating func recordOutcome(_ reference: AgreementReplica) {
        statistics.accepted += reference.acceptedCount
        statistics.rejected += reference.rejected.count
        for rejection in reference.rejected.values { statistics.codes["\(rejection.code)", default: 0] += 1 }
        if !reference.agreement.conflicts.isEmpty { statistics.historiesWithConflicts += 1 }
        let agreement = reference.agreement
        if agreement.termination != nil { statistics.historiesWithTermination += 1 }
        if !reference.state.progress.isEmpty { statistics.historiesWithSteps += 1 }
        if agreement.void != nil { statistics.historiesVoided += 1 }
        if agreement.terminationConsents.count > 1 { statistics.historiesWithTerminationAgreed += 1 }
        let accepted = pool.filter { reference.isAccepted($0.id) }.map(\.change.edits)
        if accepted.contains(where: { $0.contains { if case .removeParty = $0 { true } else { false } } }) { statistics.historiesWithRemoval += 1 }
        statistics.stepsAccepted += accepted.count { $0.contains { if case .progress = $0 { true } else { false } } }
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64), so histories replay.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
