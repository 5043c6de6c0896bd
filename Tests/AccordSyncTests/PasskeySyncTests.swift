import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import AccordTestSupport
import Foundation
import Testing

/// Approvals signed with the approver's passkey (`PasskeySignature`, protocol version 4) between
/// real nodes: the signature travels beside its approval to nodes of version 4; a node of
/// version 3 receives the approval and who made it, without the passkey signature; one that does
/// not hold (a forged node statement, another terms hash's challenge) is dropped and logged, and
/// the approval kept.
@Suite("Passkey signatures between real nodes", .serialized)
struct PasskeySyncTests {
    static let alice = try! ActingPerson(kind: .person, id: "alice", name: "Alice Chen")

    /// acme's approval of `agreement`'s current terms, signed with `authenticator`'s passkey.
    static func approve(_ acme: ClusterNode, _ agreement: AgreementID, with authenticator: inout SoftwareAuthenticator) async throws -> StoredChange {
        let terms = try #require(try await acme.store.agreement(agreement)).agreement.termsHash
        let evidence = PasskeyEvidence(
            person: alice.id, credential: try authenticator.credential(registeredAt: ClusterNode.clock()),
            assertion: try authenticator.assertion(challenge: PasskeySignature.challenge(agreement: agreement, termsHash: terms))
        )
        let signer = acme.signer
        return try await acme.store.author(agreement, signer: signer, actor: alice, passkey: evidence, nowMillis: ClusterNode.clock()) { _ in
            [.approve(organisation: "acme", termsHash: terms, signature: try signer.approvalSignature(agreement: agreement, termsHash: terms))]
        }
    }

    @Test("Alice's passkey signature over acme's approval reaches globex (version 4) and verifies there; initech (version 3) gets the approval and her name without it")
    func travelsAndDegrades() async throws {
        let nodes = try SyncTests.mesh(["acme-node1", "globex-node1", "initech-node1"])
        let (acme, globex, initech) = (nodes[0], nodes[1], nodes[2])
        try await acme.start()
        try await globex.start()
        try await initech.start { $0.protocolVersions = 1...3 }
        try await SyncTests.cleaningUp(nodes) {
            let agreement = try await acme.create(SyncTests.three)
            var authenticator = try SoftwareAuthenticator(origin: "http://localhost:7601")
            let approval = try await Self.approve(acme, agreement, with: &authenticator)
            try await SyncTests.converged(nodes, agreement)
            let held = try await globex.store.passkeySignatures(of: [approval.id])[approval.id]
            #expect(held?.person == "alice" && held?.credential.publicKey == authenticator.key.publicKey)
            let change = try #require(try await globex.store.history(of: agreement).first { $0.change.id == approval.id })
            #expect(held?.problem(for: VerifiedChange(fromTrustedLog: SignedChange(change: change.change, signature: change.signature)), by: StaticAuthorDirectory([acme.signer.node: acme.signer.publicKey])) == nil)
            #expect(try await initech.store.passkeySignatures(of: [approval.id]).isEmpty, "version 3 has no passkey signatures")
            #expect(try await initech.store.attributions(of: [approval.id])[approval.id]?.actor == Self.alice, "but who made it")
            #expect(Set(globex.sync.sessions.map(\.version)) == [3, 5])
        }
    }

    @Test("a passkey signature that does not hold is dropped and logged, its approval kept; one in a version-3 session ends it; acme refuses to make one over other terms")
    func refused() async throws {
        let nodes = try SyncTests.mesh(["acme-node1"])
        let acme = nodes[0]
        acme.peers = [ClusterNode.placeholder(for: "initech", port: try freePorts(1)[0])]
        try await acme.start()
        try await SyncTests.cleaningUp(nodes) {
            let initech = try HostileClient(certificate: "initech-node1")
            var clock = HybridLogicalClock(node: initech.node)
            let genesis = try initech.forge(try Change.genesis(
                stamp: clock.stamp(physicalMillis: ClusterNode.clock()),
                edits: [.set(.title, .text("Shared lab")), .set(.category, .category(.technicalResources)), .addParty("initech"), .addParty("acme")]
            ))
            let agreement = genesis.change.agreement
            let terms = SHA256Digest(hashing: [9])
            let signer = ChangeSigner(node: initech.node, key: initech.key)
            let approval = try initech.forge(try Change(
                agreement: agreement, stamp: clock.stamp(physicalMillis: ClusterNode.clock()), dependencies: [genesis.id],
                edits: [.approve(organisation: "initech", termsHash: terms, signature: try signer.approvalSignature(agreement: agreement, termsHash: terms))]
            ))
            var authenticator = try SoftwareAuthenticator(origin: "http://localhost:7601")
            let credential = try authenticator.credential(registeredAt: 1)
            // The assertion signs another terms hash's challenge: a passkey signature moved to other terms.
            let moved = try signer.passkeySignature(
                of: VerifiedChange(fromTrustedLog: approval), person: "mallory", credential: credential,
                assertion: try authenticator.assertion(challenge: PasskeySignature.challenge(agreement: agreement, termsHash: SHA256Digest(hashing: [8])))
            )
            let answer = try await initech.session(port: acme.port) { session in
                try await session.send(.passkeySignatures([moved.encoded, [1, 2, 3]]))
                try await session.send(.changes(batch: 0, encoded: [genesis.encoded, approval.encoded]))
                return try await session.next()
            }
            #expect(answer == .acknowledged(batch: 0))
            #expect(try await acme.store.history(of: agreement).count == 2, "the approval is kept")
            #expect(try await acme.store.passkeySignatures(of: [approval.id]).isEmpty, "its passkey signature is not")
            #expect(acme.logs.text.contains("bad-passkey-signature"))

            try await SyncTests.expectProtocolViolation(.passkeySignatures([moved.encoded]), from: initech, speaking: 1...3, to: acme)

            // acme's own store refuses to keep a passkey signature over terms it does not approve.
            let own = try await acme.create(SyncTests.three)
            let current = try #require(try await acme.store.agreement(own)).agreement.termsHash
            let stale = PasskeyEvidence(
                person: "alice", credential: credential,
                assertion: try authenticator.assertion(challenge: PasskeySignature.challenge(agreement: own, termsHash: SHA256Digest(hashing: [7])))
            )
            let before = try await acme.store.history(of: own).count
            await #expect(throws: ChangeRejection.self) {
                _ = try await acme.store.author(own, signer: acme.signer, actor: Self.alice, passkey: stale, nowMillis: ClusterNode.clock()) { _ in
                    [.approve(organisation: "acme", termsHash: current, signature: try acme.signer.approvalSignature(agreement: own, termsHash: current))]
                }
            }
            #expect(try await acme.store.history(of: own).count == before, "nothing written")
        }
    }
}
