import AccordCrypto
public import AccordModel

/// A passkey a person registered on this node's console.
public struct RegisteredPasskey: Hashable, Sendable {
    /// The person's id (`ActingPerson.id`).
    public let person: String
    public let credential: PasskeySignature.Credential
    /// The authenticator's signature counter at the last use (0 for authenticators without one).
    public let signCount: UInt32
    /// What the person called it ("laptop", "phone").
    public let name: String

    public init(person: String, credential: PasskeySignature.Credential, signCount: UInt32, name: String) {
        self.person = person
        self.credential = credential
        self.signCount = signCount
        self.name = name
    }
}

/// The passkeys people registered here: local to the node (a partner learns of one only from
/// the passkey signatures made with it), and only ever used for the person who registered them.
extension NodeStore {
    /// At most this many passkeys per person: a registration flood cannot grow the table.
    public static let maximumPasskeysPerPerson = 10

    /// Keeps `passkey`; false if its credential id is registered already (to anyone) or the
    /// person has `maximumPasskeysPerPerson`.
    public func register(_ passkey: RegisteredPasskey) async throws(StoreError) -> Bool {
        try await write { writer, _ throws(StoreError) in
            let connection = writer.connection
            let count = try connection.statement("SELECT COUNT(*) FROM passkeys WHERE person = :person").bind(":person", passkey.person)
            guard try count.step(), count.int64(0) < Self.maximumPasskeysPerPerson else { return false }
            try connection.statement(
                """
                INSERT OR IGNORE INTO passkeys (credential_id, person, public_key, relying_party, origin, registered_at, sign_count, name)
                VALUES (:id, :person, :key, :rp, :origin, :at, :count, :name)
                """
            )
            .bind(":id", passkey.credential.id).bind(":person", passkey.person).bind(":key", passkey.credential.publicKey.subjectPublicKeyInfo)
            .bind(":rp", passkey.credential.relyingParty).bind(":origin", passkey.credential.origin)
            .bind(":at", Int64(bitPattern: passkey.credential.registeredAt)).bind(":count", Int64(passkey.signCount)).bind(":name", passkey.name)
            .run()
            return connection.changes > 0
        }
    }

    /// The passkeys `person` registered, oldest first.
    public func passkeys(of person: String) async throws(StoreError) -> [RegisteredPasskey] {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement("\(Self.passkeyColumns) WHERE person = :person ORDER BY registered_at, credential_id")
            try statement.bind(":person", person)
            var found: [RegisteredPasskey] = []
            while try statement.step() { if let passkey = Self.passkey(statement) { found.append(passkey) } }
            return found
        }
    }

    /// The passkey with credential id `id`, whoever registered it.
    public func passkey(credential id: [UInt8]) async throws(StoreError) -> RegisteredPasskey? {
        try await read { connection throws(StoreError) in
            let statement = try connection.statement("\(Self.passkeyColumns) WHERE credential_id = :id")
            try statement.bind(":id", id)
            return try statement.step() ? Self.passkey(statement) : nil
        }
    }

    /// Records a passkey's counter after a use; false if `signCount` does not exceed the last
    /// (a cloned authenticator), where both are non-zero — synced passkeys report 0 always.
    public func recordUse(of id: [UInt8], signCount: UInt32) async throws(StoreError) -> Bool {
        try await write { writer, _ throws(StoreError) in
            try writer.connection.statement(
                "UPDATE passkeys SET sign_count = :count WHERE credential_id = :id AND (:count = 0 OR sign_count = 0 OR sign_count < :count)"
            )
            .bind(":id", id).bind(":count", Int64(signCount)).run()
            return writer.connection.changes > 0
        }
    }

    /// Removes one of `person`'s passkeys; false if they have none with that id.
    public func removePasskey(_ id: [UInt8], of person: String) async throws(StoreError) -> Bool {
        try await write { writer, _ throws(StoreError) in
            try writer.connection.statement("DELETE FROM passkeys WHERE credential_id = :id AND person = :person").bind(":id", id).bind(":person", person).run()
            return writer.connection.changes > 0
        }
    }

    private static let passkeyColumns = "SELECT credential_id, person, public_key, relying_party, origin, registered_at, sign_count, name FROM passkeys"

    private static func passkey(_ statement: SQLiteStatement) -> RegisteredPasskey? {
        guard let key = try? P256PublicKey(subjectPublicKeyInfo: statement.blob(2)),
            let credential = try? PasskeySignature.Credential(
                id: statement.blob(0), publicKey: key, relyingParty: statement.text(3), origin: statement.text(4),
                registeredAt: UInt64(bitPattern: statement.int64(5))
            )
        else { return nil }
        return RegisteredPasskey(person: statement.text(1), credential: credential, signCount: UInt32(clamping: statement.int64(6)), name: statement.text(7))
    }
}
