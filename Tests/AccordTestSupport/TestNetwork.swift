public import AccordCrypto
public import AccordModel

/// A node of a test network: its identity, signing key and clock.
public struct TestNode {
    public let id: NodeID
    public let signer: ChangeSigner
    public var clock: HybridLogicalClock
    public var replica = Replica(configuration: ReplicaConfiguration(maximumClockSkewMillis: 60_000))

    public init(_ organisation: OrganisationID, _ name: String, key: P256PrivateKey) {
        id = NodeID(organisation: organisation, name: name)!
        signer = ChangeSigner(node: id, key: key)
        clock = HybridLogicalClock(node: id)
    }

    public var organisation: OrganisationID { id.organisation }

    /// Creates an agreement through the node's own replica and returns the genesis change.
    public mutating func create(_ edits: [Edit], at millis: UInt64) throws -> VerifiedChange {
        try replica.create(edits, author: signer, clock: &clock, nowMillis: millis)
    }

    public mutating func edit(_ agreement: AgreementID, _ edits: [Edit], at millis: UInt64) throws -> VerifiedChange {
        try replica.edit(agreement, edits, author: signer, clock: &clock, nowMillis: millis)
    }

    /// Makes and signs a change on top of this node's heads *without* applying it anywhere, the
    /// way a misbehaving or out-of-date node would send it.
    public mutating func craft(_ agreement: AgreementID, _ edits: [Edit], at millis: UInt64) throws -> VerifiedChange {
        let heads = replica[agreement]?.heads ?? []
        for head in heads { if let stamp = replica[agreement]?.stamp(of: head) { clock.observe(stamp) } }
        let change = try Change(
            agreement: agreement, stamp: clock.stamp(physicalMillis: millis), dependencies: heads, edits: edits
        )
        return try signer.sign(change)
    }

    /// This node's approval of the terms it currently sees.
    public func approval(of agreement: AgreementID) throws -> Edit {
        guard let hash = replica[agreement]?.agreement.termsHash else { throw TestFailure("\(id) does not hold \(agreement)") }
        return .approve(
            organisation: organisation, termsHash: hash,
            signature: try signer.approvalSignature(agreement: agreement, termsHash: hash)
        )
    }

    @discardableResult
    public mutating func receive(_ change: VerifiedChange, at millis: UInt64) -> IntegrationResult {
        replica.apply(change, nowMillis: millis)
    }
}

/// Keys are the slow part of a fixture; a small pool is made once per test process.
public enum TestKeys {
    public static let pool: [P256PrivateKey] = (0..<8).map { _ in try! P256PrivateKey.generate() }
}

/// acme (two nodes), globex and initech, with the usual starting agreement between acme and globex.
public struct ThreeCompanies {
    public var acme = TestNode("acme", "a1", key: TestKeys.pool[0])
    public var acme2 = TestNode("acme", "a2", key: TestKeys.pool[1])
    public var globex = TestNode("globex", "g1", key: TestKeys.pool[2])
    public var initech = TestNode("initech", "i1", key: TestKeys.pool[3])

    public init() {}

    package var directory: StaticAuthorDirectory {
        StaticAuthorDirectory(Dictionary(uniqueKeysWithValues: [acme, acme2, globex, initech].map { ($0.id, $0.signer.publicKey) }))
    }

    public static let start: UInt64 = 1_790_000_000_000

    public static let genesisEdits: [Edit] = [
        .set(.title, .text("Shared GPU cluster")),
        .set(.category, .category(.technicalResources)),
        .addParty("acme"),
        .addParty("globex"),
    ]
}

/// A failed precondition of a test fixture.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
