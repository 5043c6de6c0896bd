import AccordCrypto
import AccordModel

/// Everything that writes: one connection, the replica cache, the node's clock and the next
/// sequence number. Confined to the store's writer queue; nothing else touches it.
final class StoreWriter {
    let connection: SQLiteConnection
    let configuration: StoreConfiguration
    private(set) var cache: ReplicaCache
    /// The local key of every agreement with accepted changes.
    private var agreementKeys: [AgreementID: Int64] = [:]
    private var nextAgreementKey: Int64 = 1
    /// Agreements with only rejected or held changes. With `agreementKeys`, every agreement the
    /// log knows, so a change to an agreement never seen costs no query.
    private var pendingAgreements: Set<AgreementID> = []
    var clock: HybridLogicalClock
    private var nextSequence: Int64 = 1

    init(connection: SQLiteConnection, configuration: StoreConfiguration) throws(StoreError) {
        self.connection = connection
        self.configuration = configuration
        self.cache = ReplicaCache(capacity: configuration.cachedAgreements)
        self.clock = HybridLogicalClock(node: configuration.node)
        try reloadCounters()
        let latest = try connection.statement(
            "SELECT stamp_millis, stamp_counter FROM changes ORDER BY stamp_millis DESC, stamp_counter DESC LIMIT 1"
        )
        defer { latest.reset() }
        if try latest.step() {
            clock.observe(Stamp(millis: UInt64(latest.int64(0)), counter: UInt32(latest.int64(1)), node: configuration.node))
        }
    }

    /// Re-reads what memory caches of the database: at start and after a failed transaction.
    func reloadCounters() throws(StoreError) {
        nextSequence = (try connection.integer("SELECT coalesce(max(seq), 0) FROM changes") ?? 0) + 1
        agreementKeys = [:]
        pendingAgreements = []
        let keys = try connection.statement("SELECT key, id FROM agreements")
        while try keys.step() {
            agreementKeys[try LogQueries.agreementID(keys.blob(1), path: connection.path)] = keys.int64(0)
        }
        nextAgreementKey = (agreementKeys.values.max() ?? 0) + 1
        for table in ["rejected_changes", "held_changes"] {
            let statement = try connection.statement("SELECT DISTINCT agreement FROM \(table)")
            while try statement.step() {
                let id = try LogQueries.agreementID(statement.blob(0), path: connection.path)
                if agreementKeys[id] == nil { pendingAgreements.insert(id) }
            }
        }
    }

    /// The local key of an agreement, given on its first accepted change.
    private func key(of id: AgreementID) -> Int64 {
        if let key = agreementKeys[id] { return key }
        let key = nextAgreementKey
        nextAgreementKey += 1
        agreementKeys[id] = key
        pendingAgreements.remove(id)
        return key
    }

    /// The replica of an agreement, from the cache or rebuilt from the log.
    func replica(_ id: AgreementID) throws(StoreError) -> AgreementReplica {
        if let cached = cache.get(id) { return cached }
        let replica = try load(id)
        cache.put(replica)
        return replica
    }

    /// Takes a replica out of the cache (or rebuilds it) to be changed and `put` back, noting the
    /// parties it had when the transaction first touched it.
    private func takeReplica(_ id: AgreementID, context: inout WriteContext) throws(StoreError) -> AgreementReplica {
        let replica: AgreementReplica
        if let cached = cache.take(id) { replica = cached } else { replica = try load(id) }
        if context.touched.insert(id).inserted { context.partiesBefore[id] = replica.state.parties }
        return replica
    }

    private func load(_ id: AgreementID) throws(StoreError) -> AgreementReplica {
        guard agreementKeys[id] != nil || pendingAgreements.contains(id) else {
            return AgreementReplica(id: id, configuration: configuration.replica)
        }
        return try LogQueries.replica(of: id, key: agreementKeys[id], configuration: configuration.replica, connection)
    }

    func evict(_ ids: some Sequence<AgreementID>) { cache.evict(ids) }

    /// Judges and persists `changes` inside the current transaction.
    func apply(
        _ changes: [VerifiedChange], origin: NodeID?, nowMillis: UInt64, context: inout WriteContext
    ) throws(StoreError) -> ApplyReport {
        var report = ApplyReport(outcomes: [], accepted: [], rejected: [])
        let undeliverable = try agreementsNotDeliverable(changes, by: origin, nowMillis: nowMillis)
        for change in changes {
            var replica = try takeReplica(change.change.agreement, context: &context)
            if let origin, undeliverable.contains(replica.id) {
                cache.put(replica)
                let refusal = ChangeRejection(
                    .deliveredByNonParty,
                    "\(change) was delivered by \(origin), whose organisation is not a party of agreement \(replica.id)"
                )
                report.outcomes.append(.rejected(refusal))
                report.refused.append((change, refusal))
                context.notice?.rejected.append(.init(change: change.id, agreement: replica.id, rejection: refusal, origin: origin))
                continue
            }
            let result = replica.apply(change, nowMillis: nowMillis)
            cache.put(replica)
            report.outcomes.append(result.outcome)
            try persist(result.settled, submitted: change, origin: origin, nowMillis: nowMillis, report: &report, context: &context)
            if case .held(let reason) = result.outcome {
                try insertHeld(change, reason: reason, nowMillis: nowMillis)
                context.notice?.held.append(.init(change: change.id, agreement: replica.id, reason: reason))
                if agreementKeys[replica.id] == nil { pendingAgreements.insert(replica.id) }
            }
        }
        return report
    }

    /// The agreements whose changes in `changes` `origin` may not deliver (docs/security-model.md,
    /// "Who may deliver a change"): held here, `origin`'s organisation never a party of them, and
    /// still none once every change of the agreement in the batch is applied, in order, to a copy.
    /// Judged over the batch, not change by change: the change that makes the sender a party may
    /// come from the sender, after changes that precede it in the history — a node restored from
    /// an old copy, whose organisation's other nodes are as old, learns them all from the party
    /// added since (seen in the 30-minute chaos soak: judged one by one, each was refused, for
    /// ever).
    private func agreementsNotDeliverable(
        _ changes: [VerifiedChange], by origin: NodeID?, nowMillis: UInt64
    ) throws(StoreError) -> Set<AgreementID> {
        guard let origin else { return [] }
        var judged: Set<AgreementID> = []
        var candidates: [AgreementID: AgreementReplica] = [:]
        for change in changes {
            let id = change.change.agreement
            if judged.insert(id).inserted {
                let replica = try replica(id)
                guard replica.exists, !replica.state.wasEverParty(origin.organisation) else { continue }
                candidates[id] = replica
            }
            _ = candidates[id]?.apply(change, nowMillis: nowMillis)
        }
        return Set(candidates.filter { !$0.value.state.wasEverParty(origin.organisation) }.keys)
    }

    /// Re-judges changes held for clock skew in every cached or logged agreement that has any.
    func releaseHeld(nowMillis: UInt64, context: inout WriteContext) throws(StoreError) -> ApplyReport {
        var report = ApplyReport(outcomes: [], accepted: [], rejected: [])
        let statement = try connection.statement("SELECT DISTINCT agreement FROM held_changes")
        var agreements: [AgreementID] = []
        while try statement.step() { agreements.append(try LogQueries.agreementID(statement.blob(0), path: connection.path)) }
        for id in agreements {
            var replica = try takeReplica(id, context: &context)
            let settled = replica.releaseHeld(nowMillis: nowMillis)
            cache.put(replica)
            try persist(settled, submitted: nil, origin: nil, nowMillis: nowMillis, report: &report, context: &context)
        }
        return report
    }

    /// Makes, signs and persists a change authored on this node. It is judged on a copy of the
    /// replica first, so a change the rules refuse leaves no trace.
    func author(
        _ agreement: AgreementID?, _ edits: [Edit], signer: ChangeSigner, actor: ActingPerson? = nil, passkey: PasskeyEvidence? = nil,
        nowMillis: UInt64, context: inout WriteContext
    ) throws(StoreError) -> Result<StoredChange, ChangeRejection> {
        var candidateClock = clock
        let change: Change
        var replica: AgreementReplica
        do {
            if let agreement {
                replica = try self.replica(agreement)
                if context.touched.insert(agreement).inserted { context.partiesBefore[agreement] = replica.state.parties }
                change = try replica.nextChange(edits, clock: &candidateClock, nowMillis: nowMillis)
            } else {
                change = try Change.genesis(stamp: candidateClock.stamp(physicalMillis: nowMillis), edits: edits)
                replica = AgreementReplica(id: change.agreement, configuration: configuration.replica)
            }
        } catch let rejection as ChangeRejection {
            return .failure(rejection)
        } catch let error as StoreError {
            throw error
        } catch {
            return .failure(ChangeRejection(.malformed, "\(error)"))
        }
        let signed: VerifiedChange
        let passkeySignature: PasskeySignature?
        do {
            signed = try signer.sign(change)
            passkeySignature = try passkey.map { passkey throws(CryptoError) in
                try signer.passkeySignature(of: signed, person: passkey.person, credential: passkey.credential, assertion: passkey.assertion)
            }
        } catch {
            return .failure(ChangeRejection(.badSignature, "this node could not sign its change: \(error)"))
        }
        if let problem = passkeySignature?.assertionProblem(for: signed) {
            return .failure(ChangeRejection(.badSignature, "the passkey signature does not hold: \(problem)"))
        }
        // Judged against the node's own hybrid clock, not the wall clock alone: after the wall
        // clock jumped back, the node's stamps run ahead of it (they never go back), and its own
        // change must not be held as if it came from a peer's clock in the future.
        let result = replica.apply(signed, nowMillis: max(nowMillis, change.stamp.millis))
        guard result.outcome == .accepted else {
            if case .rejected(let rejection) = result.outcome { return .failure(rejection) }
            return .failure(ChangeRejection(.malformed, "\(signed) could not be applied here: \(result.outcome)"))
        }
        let attribution: Attribution?
        do {
            attribution = try actor.map { actor throws(CryptoError) in try signer.attribution(of: signed, to: actor) }
        } catch {
            return .failure(ChangeRejection(.badSignature, "this node could not sign who made its change: \(error)"))
        }
        clock = candidateClock
        if context.touched.insert(replica.id).inserted { context.partiesBefore[replica.id] = [] }
        cache.put(replica)
        var report = ApplyReport(outcomes: [], accepted: [], rejected: [])
        try persist(result.settled, submitted: signed, origin: nil, nowMillis: nowMillis, report: &report, context: &context)
        if let attribution { try record([attribution], context: &context) }
        if let passkeySignature { try record([passkeySignature], context: &context) }
        return .success(report.accepted[0])
    }

    /// Keeps passkey signatures beside their approvals (one already kept stays as it is).
    func record(_ signatures: [PasskeySignature], context: inout WriteContext) throws(StoreError) {
        try record(signatures.map { ($0.change, $0.encoded) }, in: "passkey_signatures")
    }

    /// Keeps attributions beside their changes (one already kept stays as it is), and tells the
    /// transaction's observers.
    func record(_ attributions: [Attribution], context: inout WriteContext) throws(StoreError) {
        try record(attributions.map { ($0.change, $0.encoded) }, in: "attributions")
        for attribution in attributions { context.notice?.attributions[attribution.change] = attribution }
    }

    private func record(_ statements: [(change: ChangeID, encoded: [UInt8])], in table: StaticString) throws(StoreError) {
        guard !statements.isEmpty else { return }
        let insert = try connection.statement("INSERT OR IGNORE INTO \(table) (change_id, encoded) VALUES (:id, :encoded)")
        for statement in statements {
            defer { insert.reset() }
            try insert.bind(":id", statement.change.bytes).bind(":encoded", statement.encoded).run()
        }
    }

    private func persist(
        _ settled: [SettledChange], submitted: VerifiedChange?, origin: NodeID?, nowMillis: UInt64,
        report: inout ApplyReport, context: inout WriteContext
    ) throws(StoreError) {
        if let committedAt = context.notice?.committedAtMillis { context.notice?.committedAtMillis = max(committedAt, nowMillis) }
        for entry in settled {
            let change = entry.change
            let isSubmitted = change.id == submitted?.id
            if !isSubmitted {
                try connection.statement("DELETE FROM held_changes WHERE id = :id").bind(":id", change.id.bytes).run()
            }
            switch entry.verdict {
            case .accepted:
                let sequence = nextSequence
                nextSequence += 1
                let author = change.change.author
                try connection.statement(
                    """
                    INSERT INTO changes (seq, id, agreement_key, author_organisation, author_node, stamp_millis, stamp_counter,
                                         encoded, accepted_at, origin_organisation, origin_node)
                    VALUES (:seq, :id, :key, :authorOrganisation, :authorNode, :millis, :counter, :encoded, :acceptedAt,
                            :originOrganisation, :originNode)
                    """
                )
                .bind(":seq", sequence).bind(":id", change.id.bytes).bind(":key", key(of: change.change.agreement))
                .bind(":authorOrganisation", author.organisation.rawValue).bind(":authorNode", author.name)
                .bind(":millis", Int64(bitPattern: change.change.stamp.millis)).bind(":counter", Int64(change.change.stamp.counter))
                .bind(":encoded", change.signed.encoded).bind(":acceptedAt", Int64(bitPattern: nowMillis))
                .bind(":originOrganisation", isSubmitted ? origin?.organisation.rawValue : nil)
                .bind(":originNode", isSubmitted ? origin?.name : nil)
                .run()
                context.dirty[change.change.agreement] = sequence
                for edit in change.change.edits {
                    switch edit {
                    case .withdrawParty(let organisation), .removeParty(let organisation):
                        context.withdrawals[change.change.agreement, default: [:]][organisation] = sequence
                    default: continue
                    }
                }
                if change.change.protocolVersion > 4, context.newerProtocolFrom[change.change.agreement] == nil {
                    context.newerProtocolFrom[change.change.agreement] = sequence
                }
                report.accepted.append(StoredChange(sequence: sequence, change: change))
                if context.notice != nil {
                    context.notice?.accepted.append(StoredChange(sequence: sequence, change: change))
                    if !isSubmitted { context.notice?.released.insert(change.id) }
                }
            case .rejected(let rejection):
                try connection.statement(
                    """
                    INSERT INTO rejected_changes (id, agreement, code, message, encoded, rejected_at)
                    VALUES (:id, :agreement, :code, :message, :encoded, :rejectedAt)
                    """
                )
                .bind(":id", change.id.bytes).bind(":agreement", change.change.agreement.uuid.bytes)
                .bind(":code", rejection.code.description).bind(":message", rejection.message)
                .bind(":encoded", change.signed.encoded).bind(":rejectedAt", Int64(bitPattern: nowMillis))
                .run()
                if agreementKeys[change.change.agreement] == nil { pendingAgreements.insert(change.change.agreement) }
                report.rejected.append((change, rejection))
                context.notice?.rejected.append(
                    .init(change: change.id, agreement: change.change.agreement, rejection: rejection, origin: isSubmitted ? origin : nil)
                )
            }
        }
    }

    private func insertHeld(_ change: VerifiedChange, reason: HoldReason, nowMillis: UInt64) throws(StoreError) {
        try connection.statement(
            "INSERT INTO held_changes (id, agreement, reason, encoded, held_at) VALUES (:id, :agreement, :reason, :encoded, :heldAt)"
        )
        .bind(":id", change.id.bytes).bind(":agreement", change.change.agreement.uuid.bytes).bind(":reason", reason.description)
        .bind(":encoded", change.signed.encoded).bind(":heldAt", Int64(bitPattern: nowMillis))
        .run()
    }

    /// The materialised row of the agreement with local key `key`, as it stands in this transaction.
    private func materialisedRow(_ key: Int64) throws(StoreError) -> MaterialisedAgreement? {
        let statement = try connection.statement(
            """
            SELECT terms_hash, party_count, fresh_approvals, approvals, conflicts, terminates_on, expires_on, void, newer_protocol_from
            FROM agreements WHERE key = :key
            """
        )
        defer { statement.reset() }
        try statement.bind(":key", key)
        guard try statement.step() else { return nil }
        return MaterialisedAgreement(
            termsHash: try LogQueries.digest(statement.blob(0), path: connection.path), partyCount: Int(statement.int64(1)),
            freshApprovals: Int(statement.int64(2)), approvals: Int(statement.int64(3)), conflicts: Int(statement.int64(4)),
            terminatesOn: statement.isNull(5) ? nil : CalendarDate(iso8601: statement.text(5)), void: statement.int64(7) != 0,
            expiresOn: statement.isNull(6) ? nil : CalendarDate(iso8601: statement.text(6)),
            newerProtocolFrom: statement.isNull(8) ? nil : statement.int64(8)
        )
    }

    /// Writes the materialised rows of every agreement this transaction changed.
    func materialise(_ context: inout WriteContext) throws(StoreError) {
        for (id, lastSequence) in context.dirty.sorted(by: { $0.key < $1.key }) {
            let replica = try replica(id)
            let agreement = replica.agreement
            if context.notice != nil {
                let before = try agreementKeys[id].map { key throws(StoreError) in try materialisedRow(key) } ?? nil
                context.notice?.transitions.append(.init(agreement: id, before: before, after: agreement))
            }
            let key = key(of: id)
            try connection.statement(
                """
                INSERT OR REPLACE INTO agreements (id, title, category, parties, terms_hash, heads_digest, change_count,
                    last_seq, expires_on, terminated, party_count, fresh_approvals, approvals, conflicts, key,
                    effective_from, approvers, last_change, last_author, terminates_on, void, newer_protocol_from)
                VALUES (:id, :title, :category, :parties, :termsHash, :headsDigest, :changeCount, :lastSeq, :expiresOn,
                        :terminated, :partyCount, :freshApprovals, :approvals, :conflicts, :key, :effectiveFrom, :approvers,
                        :lastChange, :lastAuthor, :terminatesOn, :void,
                        -- from the first change only version-5 peers can read, older peers are sent nothing more
                        coalesce((SELECT newer_protocol_from FROM agreements WHERE key = :key), :newerProtocolFrom))
                """
            )
            .bind(":key", key).bind(":id", id.uuid.bytes).bind(":title", agreement.title).bind(":category", agreement.category?.name)
            .bind(":parties", agreement.parties.map(\.rawValue).joined(separator: "\n"))
            .bind(":termsHash", agreement.termsHash.bytes).bind(":headsDigest", replica.headsDigest.bytes)
            .bind(":changeCount", Int64(replica.acceptedCount)).bind(":lastSeq", lastSequence)
            .bind(":expiresOn", agreement.expiresOn?.description).bind(":terminated", agreement.termination == nil ? 0 : 1)
            .bind(":partyCount", Int64(agreement.parties.count))
            .bind(":freshApprovals", Int64(agreement.approvals.values.count(where: \.isFresh)))
            .bind(":approvals", Int64(agreement.approvals.count)).bind(":conflicts", Int64(agreement.conflictCount))
            .bind(":effectiveFrom", agreement.effectiveFrom?.description).bind(":approvers", AgreementOverview.approvers(agreement))
            .bind(":lastChange", Int64(bitPattern: replica.latestStamp?.millis ?? 0))
            .bind(":lastAuthor", replica.latestStamp?.node.organisation.rawValue)
            .bind(":terminatesOn", agreement.terminatesOn?.description).bind(":void", agreement.void == nil ? 0 : 1)
            .bind(":newerProtocolFrom", optional: context.newerProtocolFrom[id])
            .run()
            try CommitmentRows.write(agreement, key: key, connection)
            let before = Set(context.partiesBefore[id] ?? [])
            let after = Set(agreement.parties)
            let withdrawals = context.withdrawals[id] ?? [:]
            for party in before.subtracting(after) {
                try connection.statement("DELETE FROM agreement_parties WHERE organisation = :organisation AND agreement_key = :key")
                    .bind(":organisation", party.rawValue).bind(":key", key).run()
            }
            // A former party is owed the log up to its withdrawal. Also one that joined and left
            // within this transaction — a rebuilt node receives the whole history in one — or it
            // could never repair a node of that organisation that missed the withdrawal (the
            // 30-minute chaos soak found one).
            for party in before.union(withdrawals.keys).subtracting(after) {
                try connection.statement(
                    "INSERT OR REPLACE INTO former_parties (organisation, agreement_key, through_seq) VALUES (:organisation, :key, :through)"
                )
                .bind(":organisation", party.rawValue).bind(":key", key).bind(":through", withdrawals[party] ?? lastSequence).run()
            }
            for party in after.subtracting(before) {
                try connection.statement("INSERT OR IGNORE INTO agreement_parties (organisation, agreement_key) VALUES (:organisation, :key)")
                    .bind(":organisation", party.rawValue).bind(":key", key).run()
                try connection.statement("DELETE FROM former_parties WHERE organisation = :organisation AND agreement_key = :key")
                    .bind(":organisation", party.rawValue).bind(":key", key).run()
            }
        }
    }
}

/// What one group transaction has touched so far.
struct WriteContext {
    /// What observers will be told once it commits; nil when nobody observes commits.
    var notice: CommitNoticeDraft?
    /// Agreements whose replica changed in memory (evicted if the transaction fails).
    var touched: Set<AgreementID> = []
    /// Agreements with newly accepted changes → the last sequence number among them.
    var dirty: [AgreementID: Int64] = [:]

    /// The parties each touched agreement had before this transaction (to update the index).
    var partiesBefore: [AgreementID: [OrganisationID]] = [:]
    /// Withdrawals accepted in this transaction: agreement → organisation → the sequence number
    /// of its withdrawal (what it is owed as a former party ends there).
    var withdrawals: [AgreementID: [OrganisationID: Int64]] = [:]
    /// The first change accepted in this transaction, per agreement, that only peers of protocol
    /// version 5 can read.
    var newerProtocolFrom: [AgreementID: Int64] = [:]
}
