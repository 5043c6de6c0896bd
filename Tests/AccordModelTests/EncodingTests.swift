import AccordCrypto
@testable import AccordModel
import AccordTestSupport
import Foundation
import Testing

@Suite("Canonical change encoding")
struct EncodingTests {
    static let node = NodeID(organisation: "acme", name: "n1")!

    static func sampleChange() throws -> Change {
        let genesis = try Change.genesis(
            stamp: Stamp(millis: 1_700_000_000_000, counter: 0, node: node),
            edits: [.addParty("acme"), .addParty("globex")]
        )
        return try Change(
            agreement: genesis.agreement,
            stamp: Stamp(millis: 1_700_000_000_001, counter: 2, node: node),
            dependencies: [genesis.id],
            edits: [
                .set(.title, .text("Été")),
                .set(.expiresOn, .date(CalendarDate(year: 2027, month: 6, day: 30))),
                .set(.commitment(CommitmentID(UUIDBytes(high: 1, low: 2)), .kind), .commitmentKind(.rdSubsidy)),
                .note("hi"),
            ]
        )
    }

    @Test("a change decodes from its canonical bytes to the same change")
    func roundTrip() throws {
        let change = try Self.sampleChange()
        let decoded = try Change(canonicalBytes: change.canonicalBytes)
        #expect(decoded.id == change.id)
        #expect(decoded.edits == change.edits)
        #expect(decoded.stamp == change.stamp)
        #expect(decoded.agreement == change.agreement)
    }

    @Test("a change read back from the log (bytes kept, not encoded again) is the same change as one decoded from a peer, genesis and later")
    func storedRoundTrip() throws {
        let genesis = try Self.sampleChange()
        let later = try Change(
            agreement: genesis.agreement, stamp: Stamp(millis: genesis.stamp.millis + 1, counter: 0, node: Self.node),
            dependencies: [genesis.id], edits: [.note("stored")]
        )
        for change in [genesis, later] {
            let stored = try Change(storedCanonicalBytes: change.canonicalBytes)
            let decoded = try Change(canonicalBytes: change.canonicalBytes)
            #expect(stored == decoded && stored.id == change.id && stored.agreement == change.agreement)
        }
    }

    @Test("the bytes match the test vector in docs/encoding.md")
    func testVector() throws {
        let genesis = try Change.genesis(
            stamp: Stamp(millis: 1_700_000_000_000, counter: 0, node: Self.node),
            edits: [.addParty("acme"), .addParty("globex")]
        )
        let expected =
            "01" + "00000000000000000000000000000000" + "0000000461636d65" + "000000026e31"
            + "0000018bcfe56800" + "00000000" + "00000000" + "00000002"
            + "02" + "0000000461636d65" + "02" + "00000006676c6f626578"
        #expect(HexEncoding.encode(genesis.canonicalBytes) == expected)
        #expect(genesis.id == SHA256Digest(hashing: genesis.canonicalBytes))
        #expect(genesis.agreement == AgreementID(genesis: genesis.id))
        #expect(genesis.agreement.description.dropFirst(14).first == "8", "version-8 UUID")
        #expect(HexEncoding.encode(genesis.id.bytes) == "de05355402c64d2a9c72631e8cf913119452f06bd2093c0b6559ba676a96486c", "the change id docs/encoding.md gives")
        #expect(genesis.agreement.description == "de053554-02c6-8d2a-9c72-631e8cf91311", "the agreement id docs/encoding.md gives")
    }

    @Test("every truncation of a valid change is refused as malformed, never a crash")
    func truncations() throws {
        let bytes = try Self.sampleChange().canonicalBytes
        for length in 0..<bytes.count {
            let error = try #require(throws: ChangeRejection.self) { try Change(canonicalBytes: Array(bytes.prefix(length))) }
            #expect(error.code == .malformed)
        }
    }

    @Test("trailing bytes are refused")
    func trailingBytes() throws {
        let bytes = try Self.sampleChange().canonicalBytes
        let error = try #require(throws: ChangeRejection.self) { try Change(canonicalBytes: bytes + [0]) }
        #expect(error.message.contains("unexpected bytes"))
    }

    @Test("a forged element count cannot make the decoder allocate")
    func forgedCount() throws {
        var bytes = try Self.sampleChange().canonicalBytes
        // The dependency count sits after version, id, node and stamp.
        let offset = 1 + 16 + (4 + 4) + (4 + 2) + 8 + 4
        bytes.replaceSubrange(offset..<(offset + 4), with: [0x7f, 0xff, 0xff, 0xff])
        let error = try #require(throws: ChangeRejection.self) { try Change(canonicalBytes: bytes) }
        #expect(error.message.contains("exceed the limit"))
    }

    @Test("text that is not UTF-8 is refused")
    func invalidUTF8() throws {
        let change = try Self.sampleChange()
        var bytes = change.canonicalBytes
        let title = Array("Été".utf8)
        let index = try #require(bytes.firstRange(of: title)).lowerBound
        bytes[index] = 0xff
        let error = try #require(throws: ChangeRejection.self) { try Change(canonicalBytes: bytes) }
        #expect(error.message.contains("UTF-8"))
    }

    @Test("a value of the wrong kind for its field is refused")
    func wrongValueKind() throws {
        let error = try #require(throws: ChangeRejection.self) {
            try Change.genesis(
                stamp: Stamp(millis: 1, counter: 0, node: Self.node),
                edits: [.set(.title, .category(.fullSupport)), .addParty("acme"), .addParty("globex")]
            )
        }
        #expect(error.code == .malformed)
    }

    @Test(
        "structural limits: one write per field, at most one approval, no empty change",
        arguments: [
            [Edit.set(.title, .text("a")), .set(.title, .text("b"))],
            [.addParty("globex"), .withdrawParty("globex")],
            [],
            [.terminate(reason: "a"), .terminate(reason: "b")],
            [.set(.title, .text(String(repeating: "x", count: 2000)))],
        ]
    )
    func structuralLimits(edits: [Edit]) {
        let error = #expect(throws: ChangeRejection.self) {
            try Change.genesis(stamp: Stamp(millis: 1, counter: 0, node: Self.node), edits: edits)
        }
        #expect(error?.code == .malformed)
    }

    @Test("a genesis change must carry the placeholder id; an edit must not")
    func placeholderRules() throws {
        var bytes = try Self.sampleChange().canonicalBytes
        // Make the dependency list empty while keeping a real agreement id: not a valid genesis.
        let change = try Self.sampleChange()
        let genesisBytes = try Change.genesis(stamp: change.stamp, edits: [.addParty("acme"), .addParty("globex")]).canonicalBytes
        var forged = genesisBytes
        forged.replaceSubrange(1..<17, with: change.agreement.uuid.bytes)
        #expect(throws: ChangeRejection.self) { try Change(canonicalBytes: forged) }
        bytes.replaceSubrange(1..<17, with: [UInt8](repeating: 0, count: 16))
        #expect(throws: ChangeRejection.self) { try Change(canonicalBytes: bytes) }
    }

    @Test("a signed change round-trips through its encoding")
    func signedRoundTrip() throws {
        let signer = ChangeSigner(node: Self.node, key: TestKeys.pool[0])
        let verified = try signer.sign(try Self.sampleChange())
        let decoded = try SignedChange(encoded: verified.signed.encoded)
        #expect(decoded == verified.signed)
        #expect(throws: ChangeRejection.self) { try SignedChange(encoded: Array(verified.signed.encoded.prefix(64))) }
    }

    @Test("identifiers compare by their exact bytes, not by Unicode equivalence")
    func identifierBytes() throws {
        let composed = try #require(OrganisationID(rawValue: "\u{e9}"))
        let decomposed = try #require(OrganisationID(rawValue: "e\u{301}"))
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
        #expect(OrganisationID(rawValue: "") == nil)
        #expect(OrganisationID(rawValue: "a\u{0}b") == nil)
        #expect(OrganisationID(rawValue: String(repeating: "a", count: 65)) == nil)
    }

    @Test("a UUID prints as Foundation prints it (lower case) and parses back, seeded")
    func uuidText() throws {
        var random = SplitMix64(seed: 20261205)
        for _ in 0..<1_000 {
            let id = UUIDBytes(high: random.next(), low: random.next())
            let bytes = id.bytes
            let foundation = UUID(uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
            #expect(id.description == foundation.uuidString.lowercased())
            #expect(UUIDBytes(uuidString: id.description) == id)
        }
        #expect(UUIDBytes(high: 0, low: .max).description == "00000000-0000-0000-ffff-ffffffffffff")
        #expect(HexEncoding.encode([0x00, 0x9f, 0xa0, 0xff]) == "009fa0ff")
    }

    @Test("calendar dates are parsed, printed and derived from Unix time")
    func calendarDates() throws {
        #expect(CalendarDate(iso8601: "2024-02-29")?.description == "2024-02-29")
        #expect(CalendarDate(iso8601: "2023-02-29") == nil)
        #expect(CalendarDate(iso8601: "2023-13-01") == nil)
        #expect(CalendarDate(unixMillis: 0).description == "1970-01-01")
        #expect(CalendarDate(unixMillis: 1_709_164_800_000).description == "2024-02-29")
        #expect(CalendarDate(unixMillis: 1_790_000_000_000).description == "2026-09-21")
    }
}
