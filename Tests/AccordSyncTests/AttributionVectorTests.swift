import AccordCrypto
import AccordModel
import AccordSync
import AccordTestSupport
import Foundation
import Testing

/// What protocol version 3 adds (docs/vectors/protocol-v3.json): an attribution of the genesis
/// change of protocol-v1.json to a person, signed with that file's acme test key, and the
/// `attributions` frame that carries it. Rebuilt by the code and compared with the file, as
/// `ConformanceVectorTests` does; `ACCORD_WRITE_VECTORS=1` rewrites it.
@Suite("Conformance vectors, version 3")
struct AttributionVectorTests {
    static let file = "\(ConformanceVectorTests.folder)/protocol-v3.json"

    struct VersionThree: Codable, Equatable {
        struct AttributionVector: Codable, Equatable {
            var change: String
            var signer: String
            var kind: UInt8
            var id: String
            var name: String?
            var email: String?
            var canonical: String
            var signedMessage: String
            var signature: String
            var encoded: String
        }

        var format: String
        var attributions: [AttributionVector]
        var frames: [ConformanceVectorTests.Vectors.FrameVector]
    }

    static func build(reusing committed: VersionThree?) throws -> VersionThree {
        let one = try #require(ConformanceVectorTests.load(), "protocol-v1.json and protocol-v2.json")
        let acmeKey = try #require(one.keys.first { $0.node == "acme/n1" })
        let signer = ChangeSigner(node: NodeID(organisation: "acme", name: "n1")!, key: try P256PrivateKey(pemRepresentation: acmeKey.privateKeyPEM))
        let genesis = try #require(one.changes.first { $0.name == "genesis" })
        let signed = try SignedChange(encoded: HexEncoding.decode(genesis.signed)!)
        let actors = [
            try ActingPerson(kind: .person, id: "00u1a2b3c4", name: "Alice Chen"),
            try ActingPerson(kind: .person, id: "00u9z8y7x6", email: "bob@acme.example"),
            try ActingPerson(kind: .localUser, id: "operator"),
        ]
        var vectors: [VersionThree.AttributionVector] = []
        var encoded: [[UInt8]] = []
        for (index, actor) in actors.enumerated() {
            var attribution = try signer.attribution(of: VerifiedChange(fromTrustedLog: signed), to: actor)
            // ECDSA signatures are randomised: a committed one that verifies is kept.
            if let old = committed?.attributions[safe: index], let bytes = HexEncoding.decode(old.encoded),
                let previous = try? Attribution(encoded: bytes), previous.canonicalBytes == attribution.canonicalBytes,
                previous.isSigned(for: VerifiedChange(fromTrustedLog: signed), by: StaticAuthorDirectory([signer.node: signer.publicKey]))
            {
                attribution = previous
            }
            vectors.append(VersionThree.AttributionVector(
                change: signed.id.hex, signer: signer.node.description, kind: actor.kind.rawValue, id: actor.id, name: actor.name,
                email: actor.email, canonical: HexEncoding.encode(attribution.canonicalBytes),
                signedMessage: HexEncoding.encode(Attribution.signedMessage(attribution.canonicalBytes)),
                signature: HexEncoding.encode(attribution.signature.rawRepresentation), encoded: HexEncoding.encode(attribution.encoded)
            ))
            encoded.append(attribution.encoded)
        }
        let frame = WireMessage.attributions(Array(encoded.prefix(1)))
        return VersionThree(
            format: "What Accord protocol version 3 adds to version 2 (protocol-v1.json, protocol-v2.json): attributions (docs/encoding.md, \"Attribution\"; docs/protocol.md); hex is lower case",
            attributions: vectors,
            frames: [.init(message: "attributions: one, of the genesis change (version 3)", bytes: HexEncoding.encode(FrameEncoder.frame(frame)))]
        )
    }

    @Test("every vector of protocol-v3.json is what the code produces, and each attribution verifies with the test key")
    func vectorsMatchTheCode() throws {
        guard let file = try ConformanceVectorTests.checked(Self.file, build: Self.build(reusing:)) else { return }
        for vector in file.attributions {
            let attribution = try Attribution(encoded: HexEncoding.decode(vector.encoded)!)
            #expect(attribution.actor.id == vector.id && attribution.change.hex == vector.change)
        }
        // A decoder reads the frame back to the same attribution bytes.
        let frame = try #require(HexEncoding.decode(file.frames[0].bytes))
        #expect(FrameEncoder.frame(.attributions([HexEncoding.decode(file.attributions[0].encoded)!])) == frame)
    }

    @Test("an attribution is refused when malformed: trailing bytes, an unknown kind, a control character, an oversized name; and verifies only for its own change")
    func malformed() throws {
        let key = try P256PrivateKey.generate()
        let signer = ChangeSigner(node: NodeID(organisation: "acme", name: "n1")!, key: key)
        var clock = HybridLogicalClock(node: signer.node)
        let change = try signer.sign(try Change.genesis(stamp: clock.stamp(physicalMillis: 1_800_000_000_000), edits: [.set(.title, .text("T"))]))
        let other = try signer.sign(try Change.genesis(stamp: clock.stamp(physicalMillis: 1_800_000_000_001), edits: [.set(.title, .text("U"))]))
        let attribution = try signer.attribution(of: change, to: ActingPerson(kind: .person, id: "alice", name: "Alice"))
        let directory = StaticAuthorDirectory([signer.node: signer.publicKey])
        #expect(try Attribution(encoded: attribution.encoded) == attribution)
        #expect(attribution.isSigned(for: change, by: directory))
        #expect(!attribution.isSigned(for: other, by: directory), "bound to its own change")
        var bytes = attribution.canonicalBytes
        bytes[33] = 9  // the kind
        #expect(throws: ChangeRejection.self) { try Attribution(encoded: bytes + attribution.signature.rawRepresentation) }
        #expect(throws: ChangeRejection.self) { try Attribution(encoded: attribution.canonicalBytes + [0] + attribution.signature.rawRepresentation) }
        #expect(throws: ChangeRejection.self) { try ActingPerson(kind: .person, id: "a\u{7}b") }
        #expect(throws: ChangeRejection.self) { try ActingPerson(kind: .person, id: "a", name: String(repeating: "x", count: 257)) }
        #expect(throws: ChangeRejection.self) { try ActingPerson(kind: .person, id: "") }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
