import AccordCrypto

/// A node's copy of every agreement it holds: routes each change to its agreement and lets the
/// node author changes of its own under the same rules as everyone else's.
public struct Replica: Sendable {
    public let configuration: ReplicaConfiguration
    public private(set) var agreements: [AgreementID: AgreementReplica] = [:]

    public init(configuration: ReplicaConfiguration = ReplicaConfiguration()) {
        self.configuration = configuration
    }

    public subscript(id: AgreementID) -> AgreementReplica? { agreements[id] }

    /// Judges a verified change from anywhere (this node or a peer) at local time `nowMillis`.
    public mutating func apply(_ change: VerifiedChange, nowMillis: UInt64) -> IntegrationResult {
        let id = change.change.agreement
        return agreements[id, default: AgreementReplica(id: id, configuration: configuration)]
            .apply(change, nowMillis: nowMillis)
    }

    /// Re-judges every change held for clock skew.
    public mutating func releaseHeld(nowMillis: UInt64) -> [SettledChange] {
        var settled: [SettledChange] = []
        for id in agreements.keys.sorted() {
            settled += agreements[id]!.releaseHeld(nowMillis: nowMillis)
        }
        return settled
    }

    /// Creates an agreement: a genesis change made, signed and applied here.
    ///
    /// - Throws: the `ChangeRejection` the rules give (for example a creator not among the
    ///   parties), or a `CryptoError` if signing fails.
    public mutating func create(
        _ edits: [Edit], author: ChangeSigner, clock: inout HybridLogicalClock, nowMillis: UInt64
    ) throws -> VerifiedChange {
        let change = try Change.genesis(stamp: clock.stamp(physicalMillis: nowMillis), edits: edits)
        return try applyLocal(try author.sign(change), nowMillis: nowMillis)
    }

    /// Edits an existing agreement: a change on top of every head this node has, made, signed and
    /// applied here. The same rules judge it as any peer's change.
    public mutating func edit(
        _ agreement: AgreementID, _ edits: [Edit], author: ChangeSigner,
        clock: inout HybridLogicalClock, nowMillis: UInt64
    ) throws -> VerifiedChange {
        guard let replica = agreements[agreement] else {
            throw ChangeRejection(.malformed, "agreement \(agreement) is not known on this node")
        }
        let change = try replica.nextChange(edits, clock: &clock, nowMillis: nowMillis)
        return try applyLocal(try author.sign(change), nowMillis: nowMillis)
    }

    private mutating func applyLocal(_ change: VerifiedChange, nowMillis: UInt64) throws(ChangeRejection) -> VerifiedChange {
        let result = apply(change, nowMillis: nowMillis)
        switch result.outcome {
        case .accepted: return change
        case .rejected(let rejection): throw rejection
        case .duplicate, .held, .deferred:
            throw ChangeRejection(.malformed, "\(change) could not be applied locally: \(result.outcome)")
        }
    }
}
