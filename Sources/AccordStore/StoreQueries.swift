public import AccordCrypto
public import AccordModel

extension NodeStore {
    /// Agreements, optionally only those `party` is a party to and those with `status` on `today`,
    /// ordered by id.
    public func agreements(
        party: OrganisationID? = nil, status: AgreementStatus? = nil, today: CalendarDate
    ) async throws(StoreError) -> [AgreementSummary] {
        try await read { connection throws(StoreError) in
            let columns = """
                a.id, a.title, a.category, a.terms_hash, a.change_count, a.conflicts, a.expires_on, a.terminates_on,
                a.party_count, a.fresh_approvals, a.approvals, a.parties, a.effective_from, a.approvers, a.last_change, a.key, a.last_author, a.void
                """
            // Open commitments per agreement: the earliest due and who owes what (one pass).
            var dues: [Int64: NextDue] = [:]
            var owing: [Int64: Set<OrganisationID>] = [:]
            let open = try connection.statement("SELECT agreement_key, organisation, due_date FROM commitments WHERE state IN \(CommitmentRows.unsettledStates)")
            while try open.step() {
                let key = open.int64(0)
                let by = open.isNull(1) ? nil : OrganisationID(rawValue: open.text(1))
                if let by { owing[key, default: []].insert(by) }
                if !open.isNull(2), let date = CalendarDate(iso8601: open.text(2)), dues[key].map({ date < $0.date }) ?? true {
                    dues[key] = NextDue(date: date, by: by)
                }
            }
            let statement =
                party == nil
                ? try connection.statement("SELECT \(columns) FROM agreements a ORDER BY a.id")
                : try connection.statement(
                    "SELECT \(columns) FROM agreement_parties q JOIN agreements a ON a.key = q.agreement_key WHERE q.organisation = :party ORDER BY a.id"
                )
            if let party { try statement.bind(":party", party.rawValue) }
            var summaries: [AgreementSummary] = []
            while try statement.step() {
                let derived = AgreementStatus.derive(
                    void: statement.int64(17) != 0, terminatesOn: statement.isNull(7) ? nil : CalendarDate(iso8601: statement.text(7)),
                    expiresOn: statement.isNull(6) ? nil : CalendarDate(iso8601: statement.text(6)),
                    partyCount: Int(statement.int64(8)), freshApprovals: Int(statement.int64(9)),
                    approvals: Int(statement.int64(10)), today: today
                )
                if let status, status != derived { continue }
                var summary = AgreementSummary(
                    id: try LogQueries.agreementID(statement.blob(0), path: connection.path),
                    title: statement.isNull(1) ? nil : statement.text(1),
                    category: statement.isNull(2) ? nil : Category(name: statement.text(2)),
                    parties: statement.text(11).split(separator: "\n").compactMap { OrganisationID(rawValue: String($0)) },
                    status: derived,
                    termsHash: try LogQueries.digest(statement.blob(3), path: connection.path),
                    changeCount: Int(statement.int64(4)), conflictCount: Int(statement.int64(5))
                )
                summary.effectiveFrom = statement.isNull(12) ? nil : CalendarDate(iso8601: statement.text(12))
                summary.expiresOn = statement.isNull(6) ? nil : CalendarDate(iso8601: statement.text(6))
                summary.approvals = AgreementOverview.approvals(statement.text(13))
                summary.lastChangeMillis = UInt64(bitPattern: statement.int64(14))
                summary.lastChangeBy = statement.isNull(16) ? nil : OrganisationID(rawValue: statement.text(16))
                summary.nextDue = dues[statement.int64(15)]
                summary.owing = owing[statement.int64(15)] ?? []
                summaries.append(summary)
            }
            return summaries
        }
    }

    /// One agreement as a replay of its log: every field with provenance, conflicts, held and
    /// rejected changes. `nil` if this node holds nothing of it.
    public func agreement(_ id: AgreementID) async throws(StoreError) -> AgreementDetail? {
        let configuration = configuration.replica
        // One snapshot: the row's last sequence and the replayed log must be of the same commit.
        return try await read { connection throws(StoreError) in try connection.transaction(immediate: false) { () throws(StoreError) in
            let row = try connection.statement("SELECT key, last_seq FROM agreements WHERE id = :id").bind(":id", id.uuid.bytes)
            defer { row.reset() }  // one row of at most one: reset, or the read snapshot stays open
            let (key, lastSequence): (Int64?, Int64) = try row.step() ? (row.int64(0), row.int64(1)) : (nil, 0)
            // An agreement with no row may still have held or rejected changes.
            let replica = try LogQueries.replica(of: id, key: key, configuration: configuration, connection)
            guard replica.exists else { return nil }
            return AgreementDetail(
                agreement: replica.agreement, state: replica.state, heads: replica.heads, changeCount: replica.acceptedCount,
                lastSequence: lastSequence,
                held: replica.held.map { ($0.key, $0.value.reason) }.sorted { $0.id < $1.id },
                rejected: try LogQueries.rejectedChanges(of: id, connection)
            )
        } }
    }

    /// The reference each imported agreement was created under.
    public func importReferences() async throws(StoreError) -> [AgreementID: String] {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement("SELECT reference, agreement FROM import_references")
            var references: [AgreementID: String] = [:]
            while try statement.step() { references[try LogQueries.agreementID(statement.blob(1), path: connection.path)] = statement.text(0) }
            return references
        }
    }

    /// Whether this node holds the agreement (one indexed lookup, no history read).
    public func holds(_ id: AgreementID) async throws(StoreError) -> Bool {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement("SELECT 1 FROM agreements WHERE id = :id")
            try statement.bind(":id", id.uuid.bytes)
            return try statement.step()
        }
    }

    /// The agreement imported under `reference`, if one was.
    public func agreement(importedAs reference: String) async throws(StoreError) -> AgreementID? {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement("SELECT agreement FROM import_references WHERE reference = :reference")
            try statement.bind(":reference", reference)
            return try statement.step() ? try LogQueries.agreementID(statement.blob(0), path: connection.path) : nil
        }
    }

    /// The reference `id` was imported under, if it was (a scan: the table is keyed by reference,
    /// and holds one row per imported agreement).
    public func importReference(of id: AgreementID) async throws(StoreError) -> String? {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement("SELECT reference FROM import_references WHERE agreement = :agreement")
            try statement.bind(":agreement", id.uuid.bytes)
            return try statement.step() ? statement.text(0) : nil
        }
    }

    /// The accepted changes of an agreement in the order this node accepted them.
    public func history(of id: AgreementID) async throws(StoreError) -> [HistoryEntry] {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement(
                """
                SELECT c.seq, c.encoded, c.accepted_at, a.encoded, p.encoded FROM changes c
                LEFT JOIN attributions a ON a.change_id = c.id LEFT JOIN passkey_signatures p ON p.change_id = c.id
                WHERE c.agreement_key = (SELECT key FROM agreements WHERE id = :id) ORDER BY c.seq
                """
            )
            try statement.bind(":id", id.uuid.bytes)
            var entries: [HistoryEntry] = []
            while try statement.step() {
                let stored = try LogQueries.decode(statement.blob(1), path: connection.path)
                entries.append(HistoryEntry(
                    sequence: statement.int64(0), change: stored.change, signature: stored.signed.signature,
                    acceptedAt: UInt64(statement.int64(2)), attribution: statement.isNull(3) ? nil : try? Attribution(encoded: statement.blob(3)),
                    passkeySignature: statement.isNull(4) ? nil : try? PasskeySignature(encoded: statement.blob(4))
                ))
            }
            return entries
        }
    }

    /// Open conflicts (concurrent writes that no later write has settled), per agreement.
    public func conflicts(in agreement: AgreementID? = nil) async throws(StoreError) -> [AgreementID: [Agreement.Conflict]] {
        let configuration = configuration.replica
        return try await read { connection throws(StoreError) in
            var ids: [AgreementID] = []
            let statement = try connection.statement("SELECT id FROM agreements WHERE conflicts > 0 ORDER BY id")
            while try statement.step() { ids.append(try LogQueries.agreementID(statement.blob(0), path: connection.path)) }
            var conflicts: [AgreementID: [Agreement.Conflict]] = [:]
            for id in ids where agreement == nil || agreement == id {
                conflicts[id] = try LogQueries.replica(of: id, configuration: configuration, connection).agreement.conflicts
            }
            return conflicts
        }
    }

    /// Whether a change is in the durable log (accepted), rejected, or held; `nil` if unknown.
    public func verdict(of id: ChangeID) async throws(StoreError) -> StoredVerdict? {
        try await verdicts(of: [id])[id]
    }

    /// Where each of `ids` stands; unknown ids are absent from the result. One read for all.
    public func verdicts(of ids: [ChangeID]) async throws(StoreError) -> [ChangeID: StoredVerdict] {
        try await read { connection throws(StoreError) in
            var verdicts: [ChangeID: StoredVerdict] = [:]
            for (table, verdict) in [("changes", StoredVerdict.accepted), ("rejected_changes", .rejected), ("held_changes", .held)] {
                let statement = try connection.statement("SELECT 1 FROM \(table) WHERE id = :id")
                for id in ids where verdicts[id] == nil {
                    statement.reset()
                    try statement.bind(":id", id.bytes)
                    if try statement.step() { verdicts[id] = verdict }
                }
                statement.reset()
            }
            return verdicts
        }
    }

    /// The accepted changes among `ids`, as this node's log holds them; others are absent.
    public func acceptedChanges(_ ids: [ChangeID]) async throws(StoreError) -> [ChangeID: VerifiedChange] {
        guard !ids.isEmpty else { return [:] }
        return try await read { connection throws(StoreError) in
            let statement = try connection.statement("SELECT encoded FROM changes WHERE id = :id")
            var changes: [ChangeID: VerifiedChange] = [:]
            for id in ids {
                statement.reset()
                try statement.bind(":id", id.bytes)
                if try statement.step() { changes[id] = try LogQueries.decode(statement.blob(0), path: connection.path) }
            }
            statement.reset()
            return changes
        }
    }

    /// The attributions kept for `ids` (`Attribution`); ids without one are absent. One read.
    public func attributions(of ids: [ChangeID]) async throws(StoreError) -> [ChangeID: Attribution] {
        try await statements(about: ids, passkeySignatures: false).attributions
    }

    /// The passkey signatures kept for `ids` (`PasskeySignature`); ids without one are absent.
    public func passkeySignatures(of ids: [ChangeID]) async throws(StoreError) -> [ChangeID: PasskeySignature] {
        guard !ids.isEmpty else { return [:] }
        return try await read { connection throws(StoreError) in
            try Self.statements(about: ids, in: "passkey_signatures", connection) { try? PasskeySignature(encoded: $0) }
        }
    }

    /// The attributions and (when asked for) passkey signatures kept for `ids`, in one read:
    /// what a session sends before a batch.
    public func statements(
        about ids: [ChangeID], passkeySignatures: Bool
    ) async throws(StoreError) -> (attributions: [ChangeID: Attribution], passkeySignatures: [ChangeID: PasskeySignature]) {
        guard !ids.isEmpty else { return ([:], [:]) }
        return try await read { connection throws(StoreError) in
            let attributions = try Self.statements(about: ids, in: "attributions", connection) { try? Attribution(encoded: $0) }
            let signatures = passkeySignatures ? try Self.statements(about: ids, in: "passkey_signatures", connection) { try? PasskeySignature(encoded: $0) } : [:]
            return (attributions, signatures)
        }
    }

    /// Signed statements about changes kept in `table` by change id, decoded.
    private static func statements<Statement>(
        about ids: [ChangeID], in table: StaticString, _ connection: SQLiteConnection, _ decode: ([UInt8]) -> Statement?
    ) throws(StoreError) -> [ChangeID: Statement] {
        var found: [ChangeID: Statement] = [:]
        let statement = try connection.statement("SELECT encoded FROM \(table) WHERE change_id = :id")
        for id in ids {
            statement.reset()
            try statement.bind(":id", id.bytes)
            // Only this node's store wrote the row, after checking it.
            if try statement.step(), let decoded = decode(statement.blob(0)) { found[id] = decoded }
        }
        statement.reset()
        return found
    }

    public func peers() async throws(StoreError) -> [PeerState] {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement(
                """
                SELECT organisation, node, acknowledged_seq, last_contact, changes_sent, changes_received, changes_rejected,
                    last_rejection_code, last_rejection_message, last_rejection_at
                FROM peers ORDER BY organisation, node
                """
            )
            var peers: [PeerState] = []
            while try statement.step() {
                guard let organisation = OrganisationID(rawValue: statement.text(0)),
                    let node = NodeID(organisation: organisation, name: statement.text(1))
                else { throw StoreError(.inconsistent, "a stored peer has an invalid name", path: connection.path) }
                peers.append(PeerState(
                    node: node, acknowledgedSequence: statement.int64(2),
                    lastContact: statement.isNull(3) ? nil : UInt64(statement.int64(3)),
                    changesSent: statement.int64(4), changesReceived: statement.int64(5), changesRejected: statement.int64(6),
                    lastRejection: statement.isNull(7)
                        ? nil : (statement.text(7), statement.text(8), UInt64(statement.int64(9)))
                ))
            }
            return peers
        }
    }

    public func certificates() async throws(StoreError) -> [Certificate] {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement("SELECT der FROM certificates ORDER BY organisation, node, fingerprint")
            var certificates: [Certificate] = []
            while try statement.step() {
                do {
                    certificates.append(try Certificate(derRepresentation: statement.blob(0)))
                } catch {
                    throw StoreError(.inconsistent, "a stored certificate does not parse: \(error)", path: connection.path)
                }
            }
            return certificates
        }
    }

    /// Counts for status displays and metrics.
    public func counts() async throws(StoreError) -> (agreements: Int, changes: Int, held: Int, rejected: Int) {
        try await read { connection throws(StoreError) in
            (
                Int(try connection.integer("SELECT count(*) FROM agreements") ?? 0),
                Int(try connection.integer("SELECT count(*) FROM changes") ?? 0),
                Int(try connection.integer("SELECT count(*) FROM held_changes") ?? 0),
                Int(try connection.integer("SELECT count(*) FROM rejected_changes") ?? 0)
            )
        }
    }

    /// Checks the whole file (`PRAGMA integrity_check`) and that every materialised agreement
    /// equals a replay of its log. Reads everything: for tests, `accordctl` checks and recovery.
    package func checkConsistency() async throws(StoreError) -> ConsistencyReport {
        let configuration = configuration.replica
        return try await read { connection throws(StoreError) in
            var report = ConsistencyReport()
            let integrity = try connection.statement("PRAGMA integrity_check")
            while try integrity.step() { report.integrity.append(integrity.text(0)) }

            let orphans = try connection.integer(
                "SELECT count(DISTINCT agreement_key) FROM changes WHERE agreement_key NOT IN (SELECT key FROM agreements)"
            ) ?? 0
            if orphans > 0 {
                report.mismatches.append((AgreementID(UUIDBytes(high: 0, low: 0)), "\(orphans) agreement(s) have logged changes but no materialised row"))
            }
            var stored: [AgreementID: (key: Int64, terms: [UInt8], heads: [UInt8], count: Int64, parties: String)] = [:]
            let rows = try connection.statement("SELECT id, terms_hash, heads_digest, change_count, parties, key FROM agreements")
            while try rows.step() {
                stored[try LogQueries.agreementID(rows.blob(0), path: connection.path)] =
                    (rows.int64(5), rows.blob(1), rows.blob(2), rows.int64(3), rows.text(4))
            }
            for (id, row) in stored.sorted(by: { $0.key < $1.key }) {
                report.agreementsChecked += 1
                let replica = try LogQueries.replica(of: id, key: row.key, configuration: configuration, connection)
                report.changesReplayed += replica.acceptedCount
                let agreement = replica.agreement
                var problems: [String] = []
                if row.terms != agreement.termsHash.bytes { problems.append("terms hash") }
                if row.heads != replica.headsDigest.bytes { problems.append("heads digest") }
                if row.count != replica.acceptedCount { problems.append("change count \(row.count) ≠ \(replica.acceptedCount)") }
                if row.parties != agreement.parties.map(\.rawValue).joined(separator: "\n") { problems.append("parties") }
                let parties = try connection.statement("SELECT organisation FROM agreement_parties WHERE agreement_key = :key ORDER BY organisation")
                try parties.bind(":key", row.key)
                var storedParties: [String] = []
                while try parties.step() { storedParties.append(parties.text(0)) }
                if storedParties != agreement.parties.map(\.rawValue) { problems.append("party index") }
                if !problems.isEmpty { report.mismatches.append((id, "differs from a replay of the log: " + problems.joined(separator: ", "))) }
            }
            return report
        }
    }
}
