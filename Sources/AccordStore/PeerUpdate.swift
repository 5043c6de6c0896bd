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
        try connection.statement("INSERT OR IGNORE INTO peers (organisation, node) VALUES (:organisation, :node)")
            .bind(":organisation", node.organisation.rawValue).bind(":node", node.name).run()
        let now = Int64(bitPattern: nowMillis)
        let statement: SQLiteStatement
        switch update {
        case .contact:
            statement = try connection.statement("UPDATE peers SET last_contact = :now WHERE organisation = :organisation AND node = :node")
            try statement.bind(":now", now)
        case .acknowledged(let sequence):
            statement = try connection.statement(
                "UPDATE peers SET acknowledged_seq = max(acknowledged_seq, :sequence) WHERE organisation = :organisation AND node = :node"
            )
            try statement.bind(":sequence", sequence)
        case .sent(let count):
            statement = try connection.statement(
                "UPDATE peers SET changes_sent = changes_sent + :count WHERE organisation = :organisation AND node = :node"
            )
            try statement.bind(":count", Int64(count))
        case .received(let count, let rejected, let lastRejection):
            statement = try connection.statement(
                """
                UPDATE peers SET changes_received = changes_received + :count, changes_rejected = changes_rejected + :rejected,
                    last_rejection_code = coalesce(:code, last_rejection_code),
                    last_rejection_message = coalesce(:message, last_rejection_message),
                    last_rejection_at = CASE WHEN :code IS NULL THEN last_rejection_at ELSE :now END
                WHERE organisation = :organisation AND node = :node
                """
            )
            try statement.bind(":count", Int64(count)).bind(":rejected", Int64(rejected)).bind(":code", lastRejection?.code.description)
                .bind(":message", lastRejection?.message).bind(":now", now)
        }
        try statement.bind(":organisation", node.organisation.rawValue).bind(":node", node.name).run()
    }
}
