import AccordCrypto
import AccordModel

/// Reads of the durable log shared by the writer (to rebuild a replica it does not cache) and the
/// reader (to show an agreement exactly as a replay of its log).
enum LogQueries {
    static func decode(_ bytes: [UInt8], path: String) throws(StoreError) -> VerifiedChange {
        do {
            return VerifiedChange(fromTrustedLog: try SignedChange(storedEncoding: bytes))
        } catch {
            throw StoreError(.inconsistent, "a stored change does not decode: \(error)", path: path)
        }
    }

    static func agreementID(_ bytes: [UInt8], path: String) throws(StoreError) -> AgreementID {
        guard let uuid = UUIDBytes(bytes: bytes) else {
            throw StoreError(.inconsistent, "a stored agreement id is \(bytes.count) bytes, not 16", path: path)
        }
        return AgreementID(uuid)
    }

    /// A stored SHA-256 value: a change id, a terms hash or a heads digest.
    static func digest(_ bytes: [UInt8], path: String) throws(StoreError) -> SHA256Digest {
        guard let digest = SHA256Digest(bytes: bytes) else {
            throw StoreError(.inconsistent, "a stored digest is \(bytes.count) bytes, not 32", path: path)
        }
        return digest
    }

    /// The local key of an agreement with accepted changes.
    static func key(of agreement: AgreementID, _ connection: SQLiteConnection) throws(StoreError) -> Int64? {
        let statement = try connection.statement("SELECT key FROM agreements WHERE id = :id")
        defer { statement.reset() }
        try statement.bind(":id", agreement.uuid.bytes)
        return try statement.step() ? statement.int64(0) : nil
    }

    /// The accepted changes of the agreement with local `key`, in acceptance order.
    static func acceptedChanges(key: Int64, _ connection: SQLiteConnection) throws(StoreError) -> [StoredChange] {
        let statement = try connection.statement("SELECT seq, encoded FROM changes WHERE agreement_key = :key ORDER BY seq")
        try statement.bind(":key", key)
        var changes: [StoredChange] = []
        while try statement.step() {
            changes.append(StoredChange(sequence: statement.int64(0), change: try decode(statement.blob(1), path: connection.path)))
        }
        return changes
    }

    static func rejectedChanges(of agreement: AgreementID, _ connection: SQLiteConnection) throws(StoreError) -> [RejectedChange] {
        let statement = try connection.statement(
            "SELECT id, code, message, rejected_at FROM rejected_changes WHERE agreement = :agreement ORDER BY rejected_at, id"
        )
        try statement.bind(":agreement", agreement.uuid.bytes)
        var rejected: [RejectedChange] = []
        while try statement.step() {
            let code = ChangeRejection.Code(name: statement.text(1)) ?? .malformed
            rejected.append(RejectedChange(
                id: try digest(statement.blob(0), path: connection.path), agreement: agreement,
                rejection: ChangeRejection(code, statement.text(2)), rejectedAt: UInt64(statement.int64(3))
            ))
        }
        return rejected
    }

    static func heldChanges(of agreement: AgreementID, _ connection: SQLiteConnection) throws(StoreError) -> [VerifiedChange] {
        let statement = try connection.statement("SELECT encoded FROM held_changes WHERE agreement = :agreement ORDER BY held_at, id")
        try statement.bind(":agreement", agreement.uuid.bytes)
        var held: [VerifiedChange] = []
        while try statement.step() { held.append(try decode(statement.blob(0), path: connection.path)) }
        return held
    }

    /// Rebuilds one agreement's replica from the log. `key` is its local key if the caller knows
    /// it (the writer does, also for rows not yet materialised in the current transaction).
    static func replica(
        of agreement: AgreementID, key: Int64? = nil, configuration: ReplicaConfiguration, _ connection: SQLiteConnection
    ) throws(StoreError) -> AgreementReplica {
        var key = key
        if key == nil { key = try self.key(of: agreement, connection) }
        let accepted = try key.map { (key: Int64) throws(StoreError) in try acceptedChanges(key: key, connection).map(\.change) } ?? []
        let rejected = try rejectedChanges(of: agreement, connection)
        let held = try heldChanges(of: agreement, connection)
        do {
            return try AgreementReplica.restoring(
                id: agreement, configuration: configuration, accepted: accepted,
                rejected: Dictionary(rejected.map { ($0.id, $0.rejection) }, uniquingKeysWith: { first, _ in first }),
                held: held
            )
        } catch {
            throw StoreError(.inconsistent, "agreement \(agreement): \(error)", path: connection.path)
        }
    }
}
