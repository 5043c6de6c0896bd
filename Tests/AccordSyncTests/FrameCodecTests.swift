import AccordCrypto
import AccordModel
import AccordSync
import AccordTestSupport
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite("Frame codec")
struct FrameCodecTests {
    static let node = NodeID(organisation: "acme", name: "node1")!

    static func sampleMessages() throws -> [WireMessage] {
        var network = ThreeCompanies()
        let genesis = try network.acme.create(ThreeCompanies.genesisEdits, at: ThreeCompanies.start)
        let edit = try network.acme.edit(genesis.change.agreement, [.note("über")], at: ThreeCompanies.start + 1)
        return [
            .hello(.init(minimumVersion: 1, maximumVersion: 1, node: node, clockMillis: 1_790_000_000_000)),
            .helloAccepted(version: 1),
            .error(code: 7, message: "organisation mismatch: the certificate says globex"),
            .ping(nonce: 42),
            .pong(nonce: 42),
            .changes(batch: 9, encoded: [genesis.signed.encoded, edit.signed.encoded]),
            .changes(batch: 10, encoded: []),
            .acknowledged(batch: 9),
            .certificates([[0x30, 0x82, 0x01], [0x30]]),
            .reconcile(RangeMessage(ranges: [
                .init(upperBound: genesis.change.agreement, claim: .skip),
                .init(upperBound: nil, claim: .symbols(start: 16, count: 3, [CodedSymbol(sum: SymbolItem(words: (1, 2, 3, 4)), checksum: 5, count: 3)])),
            ])),
            .reconcile(RangeMessage(ranges: [.init(upperBound: nil, claim: .moreSymbols(next: 24))])),
        ]
    }

    @Test("every message survives encoding and decoding")
    func roundTrip() throws {
        for message in try Self.sampleMessages() {
            var buffer = ByteBuffer(bytes: FrameEncoder.frame(message))
            let decoded = try FrameDecoder.nextMessage(from: &buffer, maximumFrameBytes: FrameDecoder.defaultMaximumFrameBytes)
            #expect(decoded == message)
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("the sizes the senders pack by are the encoder's")
    func encodedSizes() throws {
        let messages = try Self.sampleMessages()
        for case .changes(let batch, let encoded) in messages {
            #expect(WireMessage.changesFrameBytes(encoded) == FrameEncoder.frame(.changes(batch: batch, encoded: encoded)).count)
        }
        let agreement = AgreementID(UUIDBytes(high: 3, low: 4))
        for heads in [[], [SHA256Digest(hashing: [1]), SHA256Digest(hashing: [2])]] {
            let entry = HeadsMessage.Entry(agreement: agreement, heads: heads)
            let one = FrameEncoder.frame(.heads(HeadsMessage(entries: [entry], isFinal: true))).count
            let none = FrameEncoder.frame(.heads(HeadsMessage(entries: [], isFinal: true))).count
            #expect(one - none == entry.encodedBytes)
        }
        let item = ReconciliationItem(agreement: agreement, headsDigest: SHA256Digest(hashing: [3]))
        let symbol = CodedSymbol(sum: SymbolItem(words: (1, 2, 3, 4)), checksum: 5, count: 6)
        let claims: [RangeMessage.Claim] = [
            .skip, .fingerprint(Fingerprint(high: 1, low: 2), count: 3), .items([item, item], wantsReply: true),
            .symbols(start: 7, count: 8, [symbol, symbol]), .moreSymbols(next: 9),
        ]
        for bound in [nil, agreement] {
            for claim in claims {
                let range = RangeMessage.Range(upperBound: bound, claim: claim)
                let one = FrameEncoder.frame(.reconcile(RangeMessage(ranges: [range]))).count
                let none = FrameEncoder.frame(.reconcile(RangeMessage(ranges: []))).count
                #expect(one - none == range.encodedBytes, "\(range)")
            }
        }
    }

    @Test("frames decode byte by byte and many to a buffer (ByteToMessageDecoderVerifier)")
    func verifier() throws {
        let pairs = try Self.sampleMessages().map { (ByteBuffer(bytes: FrameEncoder.frame($0)), [$0]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { FrameDecoder() }
    }

    @Test("a length prefix over the limit is refused as soon as the prefix arrives")
    func oversized() throws {
        var buffer = ByteBuffer(bytes: [0x7f, 0xff, 0xff, 0xff])
        let error = #expect(throws: FrameError.self) { try FrameDecoder.nextMessage(from: &buffer, maximumFrameBytes: 1 << 20) }
        #expect(error?.code == .oversized)

        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumFrameBytes: 1024)))
        #expect(throws: FrameError.self) { try channel.writeInbound(ByteBuffer(bytes: [0x00, 0x00, 0x04, 0x01])) }
        _ = try? channel.finish()
    }

    @Test("a zero-length frame, an unknown type and a malformed payload are refused")
    func malformed() throws {
        var empty = ByteBuffer(bytes: [0, 0, 0, 0])
        #expect((try? FrameDecoder.nextMessage(from: &empty, maximumFrameBytes: 1024)) == nil)
        #expect(throws: FrameError(code: .malformed, message: "a frame of length 0 has no type")) {
            var buffer = ByteBuffer(bytes: [0, 0, 0, 0])
            _ = try FrameDecoder.nextMessage(from: &buffer, maximumFrameBytes: 1024)
        }
        var unknown = ByteBuffer(bytes: [0, 0, 0, 1, 0xee])
        let unknownError = #expect(throws: FrameError.self) { try FrameDecoder.nextMessage(from: &unknown, maximumFrameBytes: 1024) }
        #expect(unknownError?.code == .unknownType)

        // A changes frame announcing a million changes in a few bytes.
        var forged = ByteBuffer(bytes: [0, 0, 0, 9, 16, 0, 0, 0, 1, 0, 0x0f, 0x42, 0x40])
        let forgedError = #expect(throws: FrameError.self) { try FrameDecoder.nextMessage(from: &forged, maximumFrameBytes: 1024) }
        #expect(forgedError?.code == .malformed)

        // A ping with trailing bytes.
        var trailing = ByteBuffer(bytes: [0, 0, 0, 10, 4, 0, 0, 0, 0, 0, 0, 0, 1, 9])
        #expect(throws: FrameError.self) { try FrameDecoder.nextMessage(from: &trailing, maximumFrameBytes: 1024) }
    }

    @Test("an incomplete frame waits for more bytes")
    func incomplete() throws {
        let frame = FrameEncoder.frame(.ping(nonce: 1))
        var buffer = ByteBuffer(bytes: frame.dropLast())
        #expect(try FrameDecoder.nextMessage(from: &buffer, maximumFrameBytes: 1024) == nil)
        #expect(buffer.readableBytes == frame.count - 1, "nothing may be consumed from an incomplete frame")
    }

    @Test("a one-field edit is small on the wire")
    func editSize() throws {
        var network = ThreeCompanies()
        let genesis = try network.acme.create(ThreeCompanies.genesisEdits, at: ThreeCompanies.start)
        let edit = try network.acme.edit(genesis.change.agreement, [.set(.title, .text("GPU pool, phase 2"))], at: ThreeCompanies.start + 1)
        let frame = FrameEncoder.frame(.changes(batch: 1, encoded: [edit.signed.encoded]))
        print("one single-field edit: \(edit.signed.encoded.count) bytes signed, \(frame.count) bytes framed")
        #expect(frame.count <= 200)
    }
}
