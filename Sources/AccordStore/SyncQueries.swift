public import AccordCrypto
public import AccordModel

/// The heads digests of every agreement shared with one organisation, and the log position they
/// describe, read from one snapshot of the database: what a reconciliation round compares.
public struct SyncSnapshot: Sendable {
    /// The latest accepted sequence number when the digests were read.
    public let sequence: Int64
    /// Agreement → heads digest, ordered by agreement id.
    public let digests: [(agreement: AgreementID, headsDigest: SHA256Digest)]

    package init(sequence: Int64, digests: [(agreement: AgreementID, headsDigest: SHA256Digest)]) {
        self.sequence = sequence
        self.digests = digests
    }
}

/// Changes for a peer, and the log position the read reached.
public struct ChangePage: Sendable {
    public let changes: [StoredChange]
    /// Every change up to this sequence number was either returned or not for this peer.
    public let through: Int64
}

/// Reads for peer sync. Each one takes the peer's organisation and returns nothing about an
/// agreement that organisation is not currently a party to: need-to-know is enforced here, in the
/// query, not left to every caller.
extension NodeStore {
    /// Accepted changes after local sequence number `sequence`, of agreements `organisation` is
    /// currently a party to, oldest first: what live push sends a peer of that organisation.
    /// Changes authored by `excluded` or received from it are left out (it has them already).
    public func changes(
        after sequence: Int64, for organisation: OrganisationID, excluding excluded: NodeID? = nil, limit: Int, readableBy version: UInt16 = .max
    ) async throws(StoreError) -> [StoredChange] {
        try await changePage(after: sequence, for: organisation, excluding: excluded, limit: limit, readableBy: version).changes
    }

    /// The protocol version from which changes may use the edits of trust rules 6-9. A peer of an
    /// older version is sent an agreement's log only up to its first such change (and nothing
    /// after it, which may depend on it): docs/protocol.md, "Versions".
    public static let agreementRulesVersion: UInt16 = 5

    /// Like `changes(after:for:excluding:limit:)`, and how far the log was read: a cursor moves to
    /// `through` even when every change it passed was left out, so it never scans them again.
    /// (The query walks the log as a range; a join made live push cost 27 ms per edit at 100,000
    /// agreements.)
    public func changePage(
        after sequence: Int64, for organisation: OrganisationID, excluding excluded: NodeID? = nil, limit: Int, readableBy version: UInt16 = .max
    ) async throws(StoreError) -> ChangePage {
        try await read { connection throws(StoreError) in try connection.transaction(immediate: false) { () throws(StoreError) in
            let latest = try connection.integer("SELECT coalesce(max(seq), 0) FROM changes") ?? 0
            let statement = try connection.statement("SELECT c.seq, c.encoded FROM changes c WHERE \(Self.owedPredicate) ORDER BY c.seq LIMIT :limit")
            try Self.bindOwed(statement, organisation: organisation, after: sequence, excluding: excluded, version: version)
            try statement.bind(":limit", Int64(limit))
            var changes: [StoredChange] = []
            while try statement.step() {
                changes.append(StoredChange(sequence: statement.int64(0), change: try LogQueries.decode(statement.blob(1), path: connection.path)))
            }
            let through = changes.count == limit ? changes[changes.count - 1].sequence : max(sequence, latest)
            return ChangePage(changes: changes, through: through)
        } }
    }

    /// How many changes `changePage` would still return after `sequence`: what a peer of
    /// `organisation` lacks from this node (for status displays; counts, never reads the changes).
    public func owedChangeCount(
        after sequence: Int64, for organisation: OrganisationID, excluding excluded: NodeID? = nil, readableBy version: UInt16 = .max
    ) async throws(StoreError) -> Int {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement("SELECT count(*) FROM changes c WHERE \(Self.owedPredicate)")
            try Self.bindOwed(statement, organisation: organisation, after: sequence, excluding: excluded, version: version)
            defer { statement.reset() }
            return try statement.step() ? Int(statement.int64(0)) : 0
        }
    }

    /// The changes after log position `:after` owed to a peer of `:organisation`, other than those
    /// authored by or received from its node: need-to-know is this predicate. A party is
    /// owed every change of the agreement; an organisation that withdrew, the changes up to the
    /// one that removed it (docs/storage.md, "Former parties"). Written so that SQLite walks the
    /// log from `:after` (a range of the primary key) and checks each change's party; a join let it
    /// scan the whole party index first. Its parameters: `:organisation`, `:after`, and the node
    /// not to send its own changes back to, `:excludedOrganisation` and `:excludedNode` (NULL for none),
    /// and the peer's protocol version `:version` (an older peer is owed nothing of an agreement
    /// from its first change of a newer version on).
    private static let owedPredicate = """
        c.seq > :after
          AND (EXISTS (SELECT 1 FROM agreement_parties p WHERE p.organisation = :organisation AND p.agreement_key = c.agreement_key)
            OR EXISTS (SELECT 1 FROM former_parties f
                       WHERE f.organisation = :organisation AND f.agreement_key = c.agreement_key AND c.seq <= f.through_seq))
          AND NOT (:excludedOrganisation IS NOT NULL AND c.author_organisation = :excludedOrganisation AND c.author_node = :excludedNode)
          AND NOT (:excludedOrganisation IS NOT NULL AND c.origin_organisation IS :excludedOrganisation AND c.origin_node IS :excludedNode)
          AND (:version >= \(agreementRulesVersion)
            OR NOT EXISTS (SELECT 1 FROM agreements g WHERE g.key = c.agreement_key AND g.newer_protocol_from <= c.seq))
        """

    /// Binds `owedPredicate`'s parameters.
    private static func bindOwed(
        _ statement: SQLiteStatement, organisation: OrganisationID, after sequence: Int64, excluding excluded: NodeID?, version: UInt16
    ) throws(StoreError) {
        try statement.bind(":organisation", organisation.rawValue).bind(":after", sequence)
            .bind(":excludedOrganisation", excluded?.organisation.rawValue).bind(":excludedNode", excluded?.name)
            .bind(":version", Int64(version))
    }

    /// For each agreement `organisation` is a party to, a digest of its history's heads, ordered
    /// by agreement id: the summary set reconciliation compares.
    package func headsDigests(sharedWith organisation: OrganisationID) async throws(StoreError) -> [(AgreementID, SHA256Digest)] {
        try await syncSnapshot(sharedWith: organisation).digests.map { ($0.agreement, $0.headsDigest) }
    }

    /// The heads digests shared with `organisation` and the sequence number they describe: of the
    /// agreements both it and this node's organisation are parties to. A copy this node keeps as a
    /// former party (its organisation withdrew) is not compared: the partner lists it no more for
    /// this node's organisation, so every round would find it different and resend it, and no
    /// round would ever be clean. (A node that missed its own withdrawal still lists it; the
    /// partner repairs it up to the withdrawal, see `logs(of:sharedWith:)`.)
    /// A peer of an older protocol version compares no agreement that holds changes it cannot read.
    public func syncSnapshot(sharedWith organisation: OrganisationID, readableBy version: UInt16 = .max) async throws(StoreError) -> SyncSnapshot {
        let own = configuration.node.organisation.rawValue
        return try await read { connection throws(StoreError) in
            try connection.transaction(immediate: false) { () throws(StoreError) in
                let sequence = try connection.integer("SELECT coalesce(max(seq), 0) FROM changes") ?? 0
                let statement = try connection.statement(
                    """
                    SELECT a.id, a.heads_digest, a.key, a.newer_protocol_from FROM agreement_parties p JOIN agreements a ON a.key = p.agreement_key
                    WHERE p.organisation = :organisation
                      AND EXISTS (SELECT 1 FROM agreement_parties q WHERE q.agreement_key = a.key AND q.organisation = :own)
                    ORDER BY a.id
                    """
                )
                try statement.bind(":organisation", organisation.rawValue).bind(":own", own)
                var digests: [(agreement: AgreementID, headsDigest: SHA256Digest)] = []
                var older: [(index: Int, key: Int64, from: Int64)] = []
                while try statement.step() {
                    let id = try LogQueries.agreementID(statement.blob(0), path: connection.path)
                    if version < Self.agreementRulesVersion, !statement.isNull(3) {
                        older.append((digests.count, statement.int64(2), statement.int64(3)))
                    }
                    digests.append((id, try LogQueries.digest(statement.blob(1), path: connection.path)))
                }
                // An older peer holds such an agreement as it stood before its first change of
                // version 5 (the log up to there is all it was sent): compared as that, a round
                // with it is clean. (An agreement born in version 5 it does not hold at all.)
                for entry in older.reversed() {
                    if let prefix = try Self.headsDigest(key: entry.key, before: entry.from, connection) {
                        digests[entry.index].headsDigest = prefix
                    } else {
                        digests.remove(at: entry.index)
                    }
                }
                return SyncSnapshot(sequence: sequence, digests: digests)
            }
        }
    }

    /// The heads digest of an agreement's log before position `sequence` (nil if it is empty):
    /// what a peer that was sent only that part of the log holds. Reads and decodes the part,
    /// so it is done only for older peers, and only for agreements that moved on to version 5.
    private static func headsDigest(key: Int64, before sequence: Int64, _ connection: SQLiteConnection) throws(StoreError) -> SHA256Digest? {
        let prefix = try LogQueries.acceptedChanges(key: key, connection).filter { $0.sequence < sequence }
        guard !prefix.isEmpty else { return nil }
        let built = Set(prefix.flatMap(\.change.change.dependencies))
        let heads = prefix.map(\.change.id).filter { !built.contains($0) }.sorted()
        return SHA256Digest(hashing: heads.flatMap(\.bytes))
    }

    /// The accepted changes (in acceptance order, up to `sequence`) of each of `agreements` that
    /// `organisation` is owed: the whole log of one it is a party to; of one it withdrew from, the
    /// changes up to its withdrawal, which it is owed as a former party (a node of it that lost
    /// its data, or missed the withdrawal, learns of it through repair). The others are absent.
    public func logs(
        of agreements: [AgreementID], sharedWith organisation: OrganisationID, upTo sequence: Int64 = .max, readableBy version: UInt16 = .max
    ) async throws(StoreError) -> [AgreementID: [StoredChange]] {
        try await read { connection throws(StoreError) in
            try connection.transaction(immediate: false) { () throws(StoreError) in
                let owed = try connection.statement(
                    """
                    SELECT a.key,
                        EXISTS (SELECT 1 FROM agreement_parties p WHERE p.agreement_key = a.key AND p.organisation = :organisation),
                        (SELECT f.through_seq FROM former_parties f WHERE f.agreement_key = a.key AND f.organisation = :organisation),
                        a.newer_protocol_from
                    FROM agreements a WHERE a.id = :agreement
                    """
                )
                var logs: [AgreementID: [StoredChange]] = [:]
                for agreement in agreements {
                    owed.reset()
                    try owed.bind(":organisation", organisation.rawValue).bind(":agreement", agreement.uuid.bytes)
                    guard try owed.step() else { continue }
                    let (key, isParty) = (owed.int64(0), owed.int64(1) != 0)
                    guard isParty || !owed.isNull(2) else { continue }
                    var through = isParty ? sequence : min(sequence, owed.int64(2))
                    if version < Self.agreementRulesVersion, !owed.isNull(3) { through = min(through, owed.int64(3) - 1) }
                    owed.reset()
                    logs[agreement] = try LogQueries.acceptedChanges(key: key, connection).filter { $0.sequence <= through }
                }
                return logs
            }
        }
    }

    /// The first change after `sequence` that `organisation` is owed only as a former party (it
    /// withdrew since): reconciliation compares current parties' agreements only, so a session
    /// streams the log from there for the peer to learn of its withdrawal. nil if there is none.
    public func earliestOwedToFormerParty(_ organisation: OrganisationID, after sequence: Int64) async throws(StoreError) -> Int64? {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement(
                """
                SELECT min(c.seq) FROM former_parties f JOIN changes c ON c.agreement_key = f.agreement_key
                WHERE f.organisation = :organisation AND c.seq > :after AND c.seq <= f.through_seq
                """
            )
            try statement.bind(":organisation", organisation.rawValue).bind(":after", sequence)
            defer { statement.reset() }
            return try statement.step() && !statement.isNull(0) ? statement.int64(0) : nil
        }
    }

    /// The latest accepted sequence number (0 for an empty log).
    public func latestSequence() async throws(StoreError) -> Int64 {
        try await read { connection throws(StoreError) in try connection.integer("SELECT coalesce(max(seq), 0) FROM changes") ?? 0 }
    }
}
