public import AccordModel

/// Something that happened in the exchange with a peer node, to be recorded in its peer state.
public enum PeerUpdate: Sendable {
    /// The peer was in contact (a session opened or a message arrived).
    case contact
    /// The peer acknowledged every change up to this local sequence number.
    case acknowledged(upTo: Int64)
    /// Changes were sent to the peer.
    case sent(count: Int)
    /// Changes were received from the peer; `rejection` is the last one refused among them.
    case received(count: Int, rejected: Int, lastRejection: ChangeRejection?)

    static func apply(_ update: PeerUpdate, to node: NodeID, nowMillis: UInt64, _ connection: SQLiteConnection) throws(StoreError) {
        try connection.statement("INSERT OR IGNORE INTO peers (organisation, node) VALUES (?, ?)")
            .bind(1, node.organisation.rawValue).bind(2, node.name).run()
        let now = Int64(bitPattern: nowMillis)
        let statement: SQLiteStatement
        switch update {
        case .contact:
            statement = try connection.statement("UPDATE peers SET last_contact = ? WHERE organisation = ? AND node = ?")
            statement.bind(1, now)
        case .acknowledged(let sequence):
            statement = try connection.statement(
                "UPDATE peers SET acknowledged_seq = max(acknowledged_seq, ?) WHERE organisation = ? AND node = ?"
            )
            statement.bind(1, sequence)
        case .sent(let count):
            statement = try connection.statement("UPDATE peers SET changes_sent = changes_sent + ? WHERE organisation = ? AND node = ?")
            statement.bind(1, Int64(count))
        case .received(let count, let rejected, let lastRejection):
            statement = try connection.statement(
                """
                UPDATE peers SET changes_received = changes_received + ?1, changes_rejected = changes_rejected + ?2,
                    last_rejection_code = coalesce(?3, last_rejection_code),
                    last_rejection_message = coalesce(?4, last_rejection_message),
                    last_rejection_at = CASE WHEN ?3 IS NULL THEN last_rejection_at ELSE ?5 END
                WHERE organisation = ?6 AND node = ?7
                """
            )
            statement.bind(1, Int64(count)).bind(2, Int64(rejected)).bind(3, lastRejection?.code.description)
                .bind(4, lastRejection?.message).bind(5, now)
            try statement.bind(6, node.organisation.rawValue).bind(7, node.name).run()
            return
        }
        try statement.bind(2, node.organisation.rawValue).bind(3, node.name).run()
    }
}
