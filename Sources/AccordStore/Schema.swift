import AccordModel

/// The database schema as named, append-only migrations. A released migration is never edited;
/// a change of schema is a new migration at the end. `PRAGMA user_version` records how many ran.
enum Schema {
    struct Migration: Sendable {
        let name: String
        let sql: String
        /// Fills what the SQL created from what the database holds, in the same transaction.
        var backfill: (@Sendable (SQLiteConnection) throws(StoreError) -> Void)? = nil
    }

    static let migrations: [Migration] = [
        Migration(
            name: "initial",
            sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

                -- Every accepted change, in acceptance order (a causal order). `encoded` is the
                -- signed change exactly as received: canonical bytes followed by the signature.
                CREATE TABLE changes (
                    seq INTEGER PRIMARY KEY,
                    id BLOB NOT NULL UNIQUE,
                    agreement_key INTEGER NOT NULL,
                    author_organisation TEXT NOT NULL,
                    author_node TEXT NOT NULL,
                    stamp_millis INTEGER NOT NULL,
                    stamp_counter INTEGER NOT NULL,
                    encoded BLOB NOT NULL,
                    accepted_at INTEGER NOT NULL
                );
                CREATE INDEX changes_by_agreement ON changes (agreement_key, seq);

                -- Verdicts must be repeatable: a change that builds on a rejected one is rejected
                -- too, so rejected changes are remembered with the rule they broke.
                CREATE TABLE rejected_changes (
                    id BLOB PRIMARY KEY,
                    agreement BLOB NOT NULL,
                    code TEXT NOT NULL,
                    message TEXT NOT NULL,
                    encoded BLOB NOT NULL,
                    rejected_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX rejected_by_agreement ON rejected_changes (agreement);

                -- Changes waiting for their dependencies or for the clock; kept durably because
                -- they were acknowledged to their sender.
                CREATE TABLE held_changes (
                    id BLOB PRIMARY KEY,
                    agreement BLOB NOT NULL,
                    reason TEXT NOT NULL,
                    encoded BLOB NOT NULL,
                    held_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX held_by_agreement ON held_changes (agreement);

                -- The materialised agreements: what listings and sync summaries read. Kept in the
                -- same transaction as the log, so it always equals a replay of the log. Equal
                -- heads digests mean equal accepted histories and so byte-identical state.
                -- `parties` is the newline-separated list; agreement_parties indexes it by party.
                -- `key` is a local number given in order of first acceptance: the log and the
                -- party index refer to it, so catching up appends to their b-trees instead of
                -- inserting at random places (agreement ids are hashes).
                CREATE TABLE agreements (
                    key INTEGER PRIMARY KEY,
                    id BLOB NOT NULL UNIQUE,
                    title TEXT,
                    category TEXT,
                    parties TEXT NOT NULL,
                    terms_hash BLOB NOT NULL,
                    heads_digest BLOB NOT NULL,
                    change_count INTEGER NOT NULL,
                    last_seq INTEGER NOT NULL,
                    expires_on TEXT,
                    terminated INTEGER NOT NULL,
                    party_count INTEGER NOT NULL,
                    fresh_approvals INTEGER NOT NULL,
                    approvals INTEGER NOT NULL,
                    conflicts INTEGER NOT NULL
                );
                CREATE TABLE agreement_parties (
                    organisation TEXT NOT NULL,
                    agreement_key INTEGER NOT NULL,
                    PRIMARY KEY (organisation, agreement_key)
                ) WITHOUT ROWID;

                -- What each peer node is known to have and how the exchange with it went.
                CREATE TABLE peers (
                    organisation TEXT NOT NULL,
                    node TEXT NOT NULL,
                    acknowledged_seq INTEGER NOT NULL DEFAULT 0,
                    last_contact INTEGER,
                    changes_sent INTEGER NOT NULL DEFAULT 0,
                    changes_received INTEGER NOT NULL DEFAULT 0,
                    changes_rejected INTEGER NOT NULL DEFAULT 0,
                    last_rejection_code TEXT,
                    last_rejection_message TEXT,
                    last_rejection_at INTEGER,
                    PRIMARY KEY (organisation, node)
                ) WITHOUT ROWID;

                -- Node certificates seen (checked against the CA before they are stored).
                CREATE TABLE certificates (
                    fingerprint BLOB PRIMARY KEY,
                    organisation TEXT NOT NULL,
                    node TEXT NOT NULL,
                    der BLOB NOT NULL,
                    not_before INTEGER NOT NULL,
                    not_after INTEGER NOT NULL,
                    first_seen INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX certificates_by_node ON certificates (organisation, node);
                """
        ),
        Migration(
            name: "change origin",
            sql: """
                -- The peer node a change was received from (NULL: authored here, or released from
                -- holding). Live push never sends a change back to the node it came from.
                ALTER TABLE changes ADD COLUMN origin_organisation TEXT;
                ALTER TABLE changes ADD COLUMN origin_node TEXT;
                """
        ),
        Migration(
            name: "former parties",
            sql: """
                -- Organisations that withdrew from an agreement, and the log position of the change
                -- that removed them here. They are still owed every change up to it, so that each of
                -- their nodes learns of the withdrawal instead of keeping a copy that says they are
                -- a party; nothing after it.
                CREATE TABLE former_parties (
                    organisation TEXT NOT NULL,
                    agreement_key INTEGER NOT NULL,
                    through_seq INTEGER NOT NULL,
                    PRIMARY KEY (organisation, agreement_key)
                ) WITHOUT ROWID;
                """
        ),
        Migration(
            name: "import references",
            sql: """
                -- The reference each imported agreement was created under: importing a record
                -- whose reference is here creates nothing (docs/import-export.md). Local to this
                -- node, like the import itself.
                CREATE TABLE import_references (
                    reference TEXT PRIMARY KEY,
                    agreement BLOB NOT NULL
                ) WITHOUT ROWID;
                """
        ),
        Migration(
            name: "commitments",
            sql: """
                -- Each agreement's commitments as its replica has them, rewritten with the
                -- agreement's row: what `accordctl agreements due` and the deadline metrics read
                -- without replaying any log.
                CREATE TABLE commitments (
                    agreement_key INTEGER NOT NULL,
                    commitment BLOB NOT NULL,
                    organisation TEXT,
                    kind TEXT,
                    description TEXT,
                    due_date TEXT,
                    state TEXT NOT NULL,
                    PRIMARY KEY (agreement_key, commitment)
                ) WITHOUT ROWID;
                CREATE INDEX open_commitments_by_due_date ON commitments (due_date) WHERE state = 'open';
                """,
            backfill: { connection throws(StoreError) in
                let agreements = try connection.statement("SELECT key, id FROM agreements")
                var rows: [(Int64, AgreementID)] = []
                while try agreements.step() { rows.append((agreements.int64(0), try LogQueries.agreementID(agreements.blob(1), path: connection.path))) }
                for (key, id) in rows {
                    let replica = try LogQueries.replica(of: id, key: key, configuration: ReplicaConfiguration(), connection)
                    // The columns of this migration only: later ones (periods) fill in their own.
                    try CommitmentRows.write(replica.agreement, key: key, connection, periods: false)
                }
            }
        ),
        Migration(
            name: "attributions",
            sql: """
                -- Who made a change through its author node (AccordModel.Attribution): the
                -- node's signed statement, kept beside the change, by the change's id.
                CREATE TABLE attributions (
                    change_id BLOB PRIMARY KEY,
                    encoded BLOB NOT NULL
                ) WITHOUT ROWID;
                """
        ),
        Migration(
            name: "passkeys",
            sql: """
                -- An approver's passkey signature over an approval change
                -- (AccordModel.PasskeySignature), by the change's id, like an attribution.
                CREATE TABLE passkey_signatures (
                    change_id BLOB PRIMARY KEY,
                    encoded BLOB NOT NULL
                ) WITHOUT ROWID;
                -- The passkeys people registered on this node's console: never synced (a
                -- partner learns of one only from the passkey signatures it makes).
                CREATE TABLE passkeys (
                    credential_id BLOB PRIMARY KEY,
                    person TEXT NOT NULL,
                    public_key BLOB NOT NULL,
                    relying_party TEXT NOT NULL,
                    origin TEXT NOT NULL,
                    registered_at INTEGER NOT NULL,
                    sign_count INTEGER NOT NULL,
                    name TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX passkeys_by_person ON passkeys (person);
                """
        ),
        Migration(
            name: "agreement overview",
            sql: """
                -- What lists of agreements show and filter by without replaying each: the start of
                -- the term, each party's approval (fresh or stale), when the latest change was made
                -- and by which organisation.
                ALTER TABLE agreements ADD COLUMN effective_from TEXT;
                ALTER TABLE agreements ADD COLUMN approvers TEXT NOT NULL DEFAULT '';
                ALTER TABLE agreements ADD COLUMN last_change INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE agreements ADD COLUMN last_author TEXT;
                """,
            backfill: { connection throws(StoreError) in
                let agreements = try connection.statement("SELECT key, id FROM agreements")
                var rows: [(Int64, AgreementID)] = []
                while try agreements.step() { rows.append((agreements.int64(0), try LogQueries.agreementID(agreements.blob(1), path: connection.path))) }
                let update = try connection.statement(
                    """
                    UPDATE agreements SET effective_from = :effectiveFrom, approvers = :approvers, last_change = :lastChange,
                        last_author = :lastAuthor WHERE key = :key
                    """
                )
                for (key, id) in rows {
                    let replica = try LogQueries.replica(of: id, key: key, configuration: ReplicaConfiguration(), connection)
                    defer { update.reset() }
                    try update.bind(":key", key).bind(":effectiveFrom", replica.agreement.effectiveFrom?.description)
                        .bind(":approvers", AgreementOverview.approvers(replica.agreement))
                        .bind(":lastChange", Int64(bitPattern: replica.latestStamp?.millis ?? 0))
                        .bind(":lastAuthor", replica.latestStamp?.node.organisation.rawValue).run()
                }
            }
        ),
        Migration(
            name: "agreement rules",
            sql: """
                -- Trust rules 6-9 (docs/design.md): the day a termination takes effect (at once,
                -- after notice, or when every party agreed), a creator's void, and from which log
                -- position an agreement holds changes only peers of protocol version 5 can read.
                ALTER TABLE agreements ADD COLUMN terminates_on TEXT;
                ALTER TABLE agreements ADD COLUMN void INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE agreements ADD COLUMN newer_protocol_from INTEGER;
                -- The first unsettled periods of each recurring commitment (what `due` lists).
                CREATE TABLE commitment_periods (
                    agreement_key INTEGER NOT NULL,
                    commitment BLOB NOT NULL,
                    period TEXT NOT NULL,
                    state TEXT NOT NULL,
                    PRIMARY KEY (agreement_key, commitment, period)
                ) WITHOUT ROWID;
                CREATE INDEX commitment_periods_by_date ON commitment_periods (period);
                UPDATE agreements SET terminates_on = '0001-01-01' WHERE terminated = 1;
                """,
            backfill: { connection throws(StoreError) in
                // From a replay of each agreement: a version-1 termination's day (it took effect
                // at once), and the commitments' states as the rules of version 5 read a version-1
                // mark ("fulfilled" by the owing party is its claim, still to confirm).
                let agreements = try connection.statement("SELECT key, id FROM agreements")
                var rows: [(Int64, AgreementID)] = []
                while try agreements.step() { rows.append((agreements.int64(0), try LogQueries.agreementID(agreements.blob(1), path: connection.path))) }
                let update = try connection.statement("UPDATE agreements SET terminates_on = :day WHERE key = :key")
                for (key, id) in rows {
                    let agreement = try LogQueries.replica(of: id, key: key, configuration: ReplicaConfiguration(), connection).agreement
                    try CommitmentRows.write(agreement, key: key, connection)
                    defer { update.reset() }
                    try update.bind(":key", key).bind(":day", agreement.terminatesOn?.description).run()
                }
            }
        ),
    ]

    static var version: Int64 { Int64(migrations.count) }

    /// Brings the database to the latest version, each migration in its own transaction.
    static func migrate(_ connection: SQLiteConnection) throws(StoreError) {
        let current = try connection.integer("PRAGMA user_version") ?? 0
        guard current <= version else {
            throw StoreError(
                .newerSchema,
                "the database has schema version \(current), written by a newer Accord; this version knows up to \(version). "
                    + "Upgrade Accord; the file was not modified",
                path: connection.path
            )
        }
        for (index, migration) in migrations.enumerated().dropFirst(Int(current)) {
            try connection.transaction { () throws(StoreError) in
                try connection.execute(migration.sql)
                try migration.backfill?(connection)
                try connection.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}
