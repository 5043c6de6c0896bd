public import AccordCrypto
public import AccordModel
import Foundation

/// What a node writes: changes judged and made durable, peer state, certificates. Each call is
/// one request of a group transaction (`NodeStore+GroupCommit.swift`).
extension NodeStore {
    /// Judges `changes` by the model's rules and makes the outcome durable: accepted changes in
    /// the log and the materialised agreements, rejected ones with their reason, held ones until
    /// they can be judged. A change already known is reported as `.duplicate` and changes nothing.
    public func apply(_ changes: [VerifiedChange], nowMillis: UInt64) async throws(StoreError) -> ApplyReport {
        try await write { writer, context throws(StoreError) in
            try writer.apply(changes, origin: nil, nowMillis: nowMillis, context: &context)
        }
    }

    /// Applies a batch received from `peer` and records the exchange in its peer state, in one
    /// transaction (one commit per received batch). `refused` are the batch's changes that failed
    /// before the store (undecodable, badly signed): counted for the peer, never recorded by id;
    /// `known` counts those dropped before it because the store had them already.
    /// Live push does not send the accepted changes back to `peer`.
    ///
    /// - Parameters:
    ///   - attributions: who made the changes, as their authors signed it (checked by the
    ///     caller); kept beside them.
    ///   - passkeySignatures: approvers' passkey signatures over approvals among the changes
    ///     (checked by the caller); kept beside them.
    public func receive(
        _ changes: [VerifiedChange], attributions: [Attribution] = [], passkeySignatures: [PasskeySignature] = [], refused: [ChangeRejection],
        known: Int = 0, from peer: NodeID, nowMillis: UInt64
    ) async throws(StoreError) -> ApplyReport {
        try await write { writer, context throws(StoreError) in
            let report = try writer.apply(changes, origin: peer, nowMillis: nowMillis, context: &context)
            try writer.record(attributions, context: &context)
            try writer.record(passkeySignatures, context: &context)
            let rejections = refused + report.allRejections
            try PeerUpdate.apply(
                .received(count: changes.count + refused.count + known, rejected: rejections.count, lastRejection: rejections.last),
                to: peer, nowMillis: nowMillis, writer.connection
            )
            return report
        }
    }

    /// Re-judges changes held because they were stamped ahead of this node's clock.
    public func releaseHeld(nowMillis: UInt64) async throws(StoreError) -> ApplyReport {
        try await write { writer, context throws(StoreError) in try writer.releaseHeld(nowMillis: nowMillis, context: &context) }
    }

    /// Authors a change on this node: on top of every head it has (or a new agreement when
    /// `agreement` is nil), stamped by the node's clock, signed with `signer`, judged by the same
    /// rules as any peer's change, and durable when this returns.
    ///
    /// - Throws: `ChangeRejection` if the rules refuse the change (nothing is recorded), or
    ///   `StoreError`.
    public func author(
        _ agreement: AgreementID?, _ edits: [Edit], signer: ChangeSigner, actor: ActingPerson? = nil, nowMillis: UInt64
    ) async throws -> StoredChange {
        try await author(agreement, signer: signer, actor: actor, nowMillis: nowMillis) { _ in edits }
    }

    /// Makes, signs and persists a change whose edits depend on the agreement as it stands — an
    /// approval signs exactly the terms the writer holds; an edit is checked against the parties
    /// and dates it will meet — in the write's own transaction, from the writer's replica (no
    /// replay of the log, and no other write in between).
    ///
    /// - Parameter edits: given the agreement as it stands (nil when `agreement` is nil or not
    ///   held), returns the edits to make, or refuses by throwing: that error comes back unchanged,
    ///   and nothing is written.
    ///   - actor: who made the change through this node, attributed beside it (`Attribution`).
    ///   - passkey: the approver's passkey assertion over the approval the change makes, kept
    ///     beside it as the node's `PasskeySignature`; the change is refused if it does not sign
    ///     the approval the edits make.
    public func author(
        _ agreement: AgreementID?, signer: ChangeSigner, actor: ActingPerson? = nil, passkey: PasskeyEvidence? = nil, nowMillis: UInt64,
        edits: @escaping @Sendable (Agreement?) throws -> [Edit]
    ) async throws -> StoredChange {
        let result: Result<StoredChange, any Error> = try await write { writer, context throws(StoreError) in
            let current = try agreement.map { id throws(StoreError) in try writer.replica(id) }.flatMap { $0.exists ? $0.agreement : nil }
            let made: [Edit]
            do {
                made = try edits(current)
            } catch {
                return .failure(error)
            }
            return try writer.author(agreement, made, signer: signer, actor: actor, passkey: passkey, nowMillis: nowMillis, context: &context)
                .mapError { $0 }
        }
        return try result.get()
    }

    /// Makes, signs and persists many changes authored on this node in one transaction (one
    /// fsync): a bulk import. Each is judged on its own: one the rules refuse leaves no trace
    /// and does not stop the others.
    public func authorMany(
        _ requests: [(agreement: AgreementID?, edits: [Edit])], signer: ChangeSigner, actor: ActingPerson? = nil, nowMillis: UInt64
    ) async throws(StoreError) -> [Result<StoredChange, ChangeRejection>] {
        try await write { writer, context throws(StoreError) in
            var results: [Result<StoredChange, ChangeRejection>] = []
            results.reserveCapacity(requests.count)
            for request in requests {
                results.append(try writer.author(request.agreement, request.edits, signer: signer, actor: actor, nowMillis: nowMillis, context: &context))
            }
            return results
        }
    }

    /// Creates the agreements of an import, in one transaction: one whose reference this node
    /// imported before (or earlier in the same call) is not created again; one the rules refuse
    /// leaves no trace and does not stop the others.
    public func importMany(
        _ requests: [(reference: String, edits: [Edit])], signer: ChangeSigner, nowMillis: UInt64
    ) async throws(StoreError) -> [ImportOutcome] {
        try await write { writer, context throws(StoreError) in
            var outcomes: [ImportOutcome] = []
            outcomes.reserveCapacity(requests.count)
            let known = try writer.connection.statement("SELECT agreement FROM import_references WHERE reference = :reference")
            let remember = try writer.connection.statement("INSERT INTO import_references (reference, agreement) VALUES (:reference, :agreement)")
            for request in requests {
                defer { known.reset() }
                try known.bind(":reference", request.reference)
                if try known.step() {
                    outcomes.append(.present(try LogQueries.agreementID(known.blob(0), path: writer.connection.path)))
                    continue
                }
                switch try writer.author(nil, request.edits, signer: signer, nowMillis: nowMillis, context: &context) {
                case .success(let stored):
                    defer { remember.reset() }
                    try remember.bind(":reference", request.reference).bind(":agreement", stored.agreement.uuid.bytes).run()
                    outcomes.append(.created(stored))
                case .failure(let rejection):
                    outcomes.append(.refused(rejection))
                }
            }
            return outcomes
        }
    }

    /// Records an exchange with a peer node.
    public func updatePeer(_ node: NodeID, _ update: PeerUpdate, nowMillis: UInt64) async throws(StoreError) {
        try await updatePeer(node, [update], nowMillis: nowMillis)
    }

    /// Records several things about a peer node in one transaction.
    public func updatePeer(_ node: NodeID, _ updates: [PeerUpdate], nowMillis: UInt64) async throws(StoreError) {
        try await write { writer, _ throws(StoreError) in
            for update in updates { try PeerUpdate.apply(update, to: node, nowMillis: nowMillis, writer.connection) }
        }
    }

    /// Forgets a peer node: its counters and delivery cursor. If it connects again it is met
    /// anew, and the first reconciliation round finds what it lacks.
    ///
    /// - Returns: whether the store knew the node.
    public func forgetPeer(_ node: NodeID) async throws(StoreError) -> Bool {
        try await write { writer, _ throws(StoreError) in
            try writer.connection.statement("DELETE FROM peers WHERE organisation = :organisation AND node = :node")
                .bind(":organisation", node.organisation.rawValue).bind(":node", node.name).run()
            return writer.connection.changes > 0
        }
    }

    /// Remembers a node certificate (which the caller has checked against the consortium CA).
    public func rememberCertificate(_ certificate: Certificate, nowMillis: UInt64) async throws(StoreError) {
        try await write { writer, _ throws(StoreError) in
            try writer.connection.statement(
                """
                INSERT OR IGNORE INTO certificates (fingerprint, organisation, node, der, not_before, not_after, first_seen)
                VALUES (:fingerprint, :organisation, :node, :der, :not_before, :not_after, :first_seen)
                """
            )
            .bind(":fingerprint", certificate.fingerprint.bytes).bind(":organisation", certificate.organisation)
            .bind(":node", certificate.commonName).bind(":der", certificate.derRepresentation)
            .bind(":not_before", Int64(certificate.notBefore.timeIntervalSince1970))
            .bind(":not_after", Int64(certificate.notAfter.timeIntervalSince1970))
            .bind(":first_seen", Int64(bitPattern: nowMillis / 1000))
            .run()
        }
    }
}

extension NodeStore {
    /// The node's secret for pseudonyms of people (`[people] share = "pseudonym"`): 32 random
    /// bytes made at first use and kept in the database, so a person keeps one pseudonym across
    /// restarts, backups and restores.
    public func pseudonymKey() async throws(StoreError) -> [UInt8] {
        try await write { writer, _ throws(StoreError) in
            if let hex = try writer.connection.text("SELECT value FROM meta WHERE key = 'people-pseudonym-key'"), let key = HexEncoding.decode(hex) {
                return key
            }
            var generator = SystemRandomNumberGenerator()
            let key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            try writer.connection.statement("INSERT INTO meta (key, value) VALUES ('people-pseudonym-key', :value)").bind(":value", HexEncoding.encode(key)).run()
            return key
        }
    }
}
