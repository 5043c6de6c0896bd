import AccordCrypto
import AccordModel
import AccordTestSupport
import Testing

/// One test per rule of the trust model (docs/design.md, "Trust rules"): the change is refused with its own code,
/// and the receiving replica's state is byte-for-byte what it was.
@Suite("Trust-model rules")
struct RuleTests {
    var network = ThreeCompanies()
    let agreement: AgreementID
    let t = ThreeCompanies.start

    init() throws {
        let genesis = try network.acme.create(ThreeCompanies.genesisEdits, at: t)
        agreement = genesis.change.agreement
        network.globex.receive(genesis, at: t)
        network.initech.receive(genesis, at: t)
    }

    /// Delivers `change` to globex and checks it is refused for `code` with nothing changed.
    mutating func expectRefusedAtGlobex(_ change: VerifiedChange, _ code: ChangeRejection.Code) throws {
        let before = try #require(network.globex.replica[agreement]).state.canonicalEncoding
        let result = network.globex.receive(change, at: t + 10_000)
        guard case .rejected(let rejection) = result.outcome else {
            Issue.record("expected \(code), got \(result.outcome)")
            return
        }
        #expect(rejection.code == code, "\(rejection)")
        #expect(try #require(network.globex.replica[agreement]).state.canonicalEncoding == before)
        // Offered again, it is a known verdict, still refused and still nothing changes.
        #expect(network.globex.receive(change, at: t + 20_000).outcome == .duplicate)
    }

    @Test("a node of an organisation that is not a party may not edit")
    mutating func nonPartyAuthor() throws {
        let change = try network.initech.craft(agreement, [.set(.title, .text("Ours now"))], at: t + 1)
        try expectRefusedAtGlobex(change, .authorNotParty)
    }

    @Test("a non-party may not add itself as a party")
    mutating func nonPartyAddsItself() throws {
        let change = try network.initech.craft(agreement, [.addParty("initech")], at: t + 1)
        try expectRefusedAtGlobex(change, .authorNotParty)
    }

    @Test("only organisation X writes X's approval")
    mutating func approvalForAnotherOrganisation() throws {
        let hash = try #require(network.acme.replica[agreement]).agreement.termsHash
        let forged = Edit.approve(
            organisation: "globex", termsHash: hash,
            signature: try network.acme.signer.approvalSignature(agreement: agreement, termsHash: hash)
        )
        let change = try network.acme.craft(agreement, [forged], at: t + 1)
        try expectRefusedAtGlobex(change, .approvalForAnotherOrganisation)
    }

    @Test("a party may withdraw only itself")
    mutating func withdrawalOfAnotherParty() throws {
        let change = try network.acme.craft(agreement, [.withdrawParty("globex")], at: t + 1)
        try expectRefusedAtGlobex(change, .withdrawalOfAnotherParty)
    }

    @Test("nothing but notes is accepted from an author who had seen the termination")
    mutating func editAfterTermination() throws {
        let termination = try network.acme.edit(agreement, [.terminate(reason: "project cancelled")], at: t + 1)
        network.globex.receive(termination, at: t + 1)
        let edit = try network.acme.craft(agreement, [.set(.title, .text("Revived"))], at: t + 2)
        try expectRefusedAtGlobex(edit, .editAfterTermination)
        let mixed = try network.acme.craft(agreement, [.note("why"), .set(.title, .text("Revived"))], at: t + 3)
        try expectRefusedAtGlobex(mixed, .editAfterTermination)

        let note = try network.acme.craft(agreement, [.note("Lessons learned attached.")], at: t + 4)
        #expect(network.globex.receive(note, at: t + 4).outcome == .accepted)
    }

    @Test("a second termination after seeing the first is refused")
    mutating func terminationIsSetOnce() throws {
        let first = try network.acme.edit(agreement, [.terminate(reason: "first")], at: t + 1)
        network.globex.receive(first, at: t + 1)
        let second = try network.globex.craft(agreement, [.terminate(reason: "second")], at: t + 2)
        try expectRefusedAtGlobex(second, .editAfterTermination)
    }

    @Test("the creator must be among the parties")
    mutating func creatorNotParty() throws {
        let change = try network.initech.signer.sign(try Change.genesis(
            stamp: network.initech.clock.stamp(physicalMillis: t), edits: [.addParty("acme"), .addParty("globex")]
        ))
        let result = network.globex.receive(change, at: t)
        #expect(result.outcome == .rejected(ChangeRejection(.creatorNotParty, "")))
        #expect(network.globex.replica[change.change.agreement]?.exists != true)
    }

    @Test("an agreement binds at least two parties")
    mutating func tooFewParties() throws {
        let change = try network.initech.signer.sign(try Change.genesis(
            stamp: network.initech.clock.stamp(physicalMillis: t), edits: [.addParty("initech")]
        ))
        #expect(network.globex.receive(change, at: t).outcome == .rejected(ChangeRejection(.tooFewParties, "")))
    }

    @Test("a commitment must be created (party, kind, description) before it is edited")
    mutating func unknownCommitment() throws {
        let change = try network.acme.craft(
            agreement, [.set(.commitment(CommitmentID.random(), .state), .commitmentState(.fulfilled))], at: t + 1
        )
        try expectRefusedAtGlobex(change, .unknownCommitment)
    }

    @Test("a change that builds on a refused change is refused")
    mutating func dependsOnRejectedChange() throws {
        var outsider = network.initech
        let refused = try outsider.craft(agreement, [.set(.title, .text("x"))], at: t + 1)
        outsider.receive(refused, at: t + 1)
        // The outsider's own replica refused it too, so force a dependent by hand.
        let dependent = try outsider.signer.sign(try Change(
            agreement: agreement, stamp: outsider.clock.stamp(physicalMillis: t + 2),
            dependencies: [refused.id], edits: [.note("on top")]
        ))
        network.globex.receive(refused, at: t + 3)
        try expectRefusedAtGlobex(dependent, .dependsOnRejectedChange)
    }

    @Test("a change stamped no later than what it builds on is refused")
    mutating func stampNotAfterDependencies() throws {
        let edit = try network.acme.edit(agreement, [.set(.title, .text("New"))], at: t + 5_000)
        network.globex.receive(edit, at: t + 5_000)
        let backdated = try network.acme.signer.sign(try Change(
            agreement: agreement, stamp: Stamp(millis: t + 4_000, counter: 0, node: network.acme.id),
            dependencies: [edit.id], edits: [.note("back in time")]
        ))
        try expectRefusedAtGlobex(backdated, .stampNotAfterDependencies)
    }

    @Test("local edits obey the same rules")
    mutating func localEditsAreJudged() throws {
        let error = try #require(throws: ChangeRejection.self) {
            try network.acme.edit(agreement, [.withdrawParty("globex")], at: t + 1)
        }
        #expect(error.code == .withdrawalOfAnotherParty)
        #expect(try #require(network.acme.replica[agreement]).agreement.parties == ["acme", "globex"])
    }
}

@Suite("Signature verification")
struct VerificationTests {
    let network = ThreeCompanies()

    func genesis() throws -> VerifiedChange {
        try network.acme.signer.sign(try Change.genesis(
            stamp: Stamp(millis: ThreeCompanies.start, counter: 0, node: network.acme.id),
            edits: ThreeCompanies.genesisEdits
        ))
    }

    @Test("a correctly signed change from a known node verifies, also after a relay's re-encoding")
    func verifies() throws {
        let change = try genesis()
        let relayed = try SignedChange(encoded: change.signed.encoded)
        #expect(try ChangeVerifier(directory: network.directory).verify(relayed).id == change.id)
    }

    @Test("a flipped bit in the change or its signature is a bad signature")
    func tampered() throws {
        let encoded = try genesis().signed.encoded
        let verifier = ChangeVerifier(directory: network.directory)
        // Flip a bit of the title text (still a well-formed change) and of the signature.
        let titleIndex = try #require(encoded.firstRange(of: Array("Shared".utf8))).lowerBound
        for index in [titleIndex, encoded.count - 1, encoded.count - 40] {
            var bytes = encoded
            bytes[index] ^= 0x01
            let error = try #require(throws: ChangeRejection.self) { try verifier.verify(try SignedChange(encoded: bytes)) }
            #expect(error.code == .badSignature)
        }
    }

    @Test("a change signed by globex's key in acme's name is a bad signature")
    func forgedAuthor() throws {
        let change = try genesis().change
        let forged = SignedChange(
            change: change, signature: try TestKeys.pool[2].signature(for: SignedChange.signedMessage(for: change))
        )
        let error = try #require(throws: ChangeRejection.self) { try ChangeVerifier(directory: network.directory).verify(forged) }
        #expect(error.code == .badSignature)
    }

    @Test("a change from a node without a known certificate is refused as unknown author")
    func unknownAuthor() throws {
        let stranger = ChangeSigner(node: NodeID(organisation: "umbrella", name: "u1")!, key: TestKeys.pool[4])
        let change = try stranger.sign(try Change.genesis(
            stamp: Stamp(millis: 1, counter: 0, node: stranger.node), edits: [.addParty("umbrella"), .addParty("acme")]
        ))
        let error = try #require(throws: ChangeRejection.self) { try ChangeVerifier(directory: network.directory).verify(change.signed) }
        #expect(error.code == .unknownAuthor)
    }

    @Test("an approval whose own signature does not verify is a bad signature")
    func badApprovalSignature() throws {
        let genesis = try genesis()
        let hash = SHA256Digest(hashing: [1, 2, 3])
        let wrongSignature = try network.acme.signer.approvalSignature(agreement: genesis.change.agreement, termsHash: SHA256Digest(hashing: [9]))
        let change = try network.acme.signer.sign(try Change(
            agreement: genesis.change.agreement, stamp: Stamp(millis: ThreeCompanies.start + 1, counter: 0, node: network.acme.id),
            dependencies: [genesis.id], edits: [.approve(organisation: "acme", termsHash: hash, signature: wrongSignature)]
        ))
        let error = try #require(throws: ChangeRejection.self) { try ChangeVerifier(directory: network.directory).verify(change.signed) }
        #expect(error.code == .badSignature)
        #expect(error.message.contains("approval"))
    }
}
