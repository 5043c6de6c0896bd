public import AccordModel
public import AccordCrypto

/// The messages of Accord's peer protocol (docs/protocol.md), each sent as one frame.
public enum WireMessage: Hashable, Sendable {
    /// First message of each side: who it is and which protocol versions it speaks.
    case hello(Hello)
    /// The answer to a hello: the version both will speak. Only after it may data flow.
    case helloAccepted(version: UInt16)
    /// Why the sender is closing the session (or refusing a message).
    case error(code: UInt16, message: String)
    /// Keepalive; the peer answers with `pong` carrying the same nonce.
    case ping(nonce: UInt64)
    case pong(nonce: UInt64)
    /// A batch of signed changes, each in its encoded form (docs/encoding.md, "Signed change").
    /// They are decoded and verified by the receiving session off the event loop, so one bad
    /// change is refused on its own without tearing down the session.
    case changes(batch: UInt32, encoded: [[UInt8]])
    /// The receiver made the batch durable (and judged each change).
    case acknowledged(batch: UInt32)
    /// Version 3: who made changes of the `changes` frame that follows, as their author nodes
    /// signed it (docs/encoding.md, "Attribution"); each entry an encoded `Attribution`.
    case attributions([[UInt8]])
    /// Version 4: approvers' passkey signatures over approvals of the `changes` frame that
    /// follows (docs/encoding.md, "Passkey signature"); each entry an encoded `PasskeySignature`.
    case passkeySignatures([[UInt8]])
    /// Node certificates (DER), so relayed changes can be verified by their author's key.
    case certificates([[UInt8]])
    /// One step of range-based set reconciliation over the agreements both organisations share.
    case reconcile(RangeMessage)
    /// The heads of agreements a reconciliation round found different; `final` on the last
    /// message of the round.
    case heads(HeadsMessage)
    /// Asks the side that runs reconciliation rounds (the dialer) to run one now.
    case reconcileRequest

    public struct Hello: Hashable, Sendable {
        public var minimumVersion: UInt16
        public var maximumVersion: UInt16
        public var node: NodeID
        /// The sender's clock (Unix ms), for showing skew to operators.
        public var clockMillis: UInt64

        public init(minimumVersion: UInt16, maximumVersion: UInt16, node: NodeID, clockMillis: UInt64) {
            self.minimumVersion = minimumVersion
            self.maximumVersion = maximumVersion
            self.node = node
            self.clockMillis = clockMillis
        }
    }

    /// The frame type byte.
    public enum Kind: UInt8, Sendable {
        case hello = 1, helloAccepted = 2, error = 3, ping = 4, pong = 5
        case changes = 16, acknowledged = 17, certificates = 18, reconcile = 19, heads = 20, reconcileRequest = 21
        case attributions = 22
        case passkeySignatures = 23
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .helloAccepted: .helloAccepted
        case .error: .error
        case .ping: .ping
        case .pong: .pong
        case .changes: .changes
        case .acknowledged: .acknowledged
        case .certificates: .certificates
        case .reconcile: .reconcile
        case .heads: .heads
        case .reconcileRequest: .reconcileRequest
        case .attributions: .attributions
        case .passkeySignatures: .passkeySignatures
        }
    }

    /// Limits on the contents of one message, beyond the frame size.
    public static let maximumErrorMessageBytes = 4096
    public static let maximumChangesPerBatch = 4096
    public static let maximumCertificates = 256
    public static let maximumRanges = 4096
    public static let maximumItemsPerRange = 4096
    public static let maximumSymbolsPerRange = RangeReconciler.maximumSymbolsPerRange
    public static let maximumHeadsEntries = 4096
    public static let maximumHeadsPerAgreement = 1024

    /// The payload (everything after the type byte).
    func encodePayload(into writer: inout CanonicalWriter) {
        switch self {
        case .hello(let hello):
            writer.write(hello.minimumVersion)
            writer.write(hello.maximumVersion)
            writer.write(hello.node.organisation.rawValue)
            writer.write(hello.node.name)
            writer.write(hello.clockMillis)
        case .helloAccepted(let version):
            writer.write(version)
        case .error(let code, let message):
            writer.write(code)
            writer.write(String(message.utf8.prefix(Self.maximumErrorMessageBytes)) ?? "")
        case .ping(let nonce), .pong(let nonce):
            writer.write(nonce)
        case .changes(let batch, let encoded):
            writer.write(batch)
            writer.writeSequence(encoded) { writer, bytes in
                writer.write(UInt32(bytes.count))
                writer.writeFixed(bytes)
            }
        case .acknowledged(let batch):
            writer.write(batch)
        case .certificates(let blobs), .attributions(let blobs), .passkeySignatures(let blobs):
            writer.writeSequence(blobs) { writer, bytes in
                writer.write(UInt32(bytes.count))
                writer.writeFixed(bytes)
            }
        case .reconcile(let message):
            writer.writeSequence(message.ranges) { writer, range in
                writer.writeOptional(range.upperBound) { writer, bound in writer.writeFixed(bound.uuid.bytes) }
                switch range.claim {
                case .skip:
                    writer.write(UInt8(0))
                case .fingerprint(let fingerprint, let count):
                    writer.write(UInt8(1))
                    writer.write(fingerprint.high)
                    writer.write(fingerprint.low)
                    writer.write(count)
                case .items(let items, let wantsReply):
                    writer.write(UInt8(2))
                    writer.write(wantsReply)
                    writer.writeSequence(items) { writer, item in
                        writer.writeFixed(item.agreement.uuid.bytes)
                        writer.writeFixed(item.headsDigest.bytes)
                    }
                case .symbols(let start, let count, let symbols):
                    writer.write(UInt8(3))
                    writer.write(start)
                    writer.write(count)
                    writer.writeSequence(symbols) { writer, symbol in
                        let words = symbol.sum.words
                        for word in [words.0, words.1, words.2, words.3] { writer.write(word) }
                        writer.write(symbol.checksum)
                        writer.write(UInt32(truncatingIfNeeded: symbol.count))
                    }
                case .moreSymbols(let next):
                    writer.write(UInt8(4))
                    writer.write(next)
                }
            }
        case .heads(let message):
            writer.write(message.isFinal)
            writer.writeSequence(message.entries) { writer, entry in
                writer.writeFixed(entry.agreement.uuid.bytes)
                writer.writeSequence(entry.heads) { writer, head in writer.writeFixed(head.bytes) }
            }
        case .reconcileRequest:
            break
        }
    }

    /// Decodes a payload of type `kind`; every length is checked against what is left.
    static func decode(kind: Kind, payload: [UInt8]) throws(DecodingError) -> WireMessage {
        var reader = CanonicalReader(payload)
        let message: WireMessage
        switch kind {
        case .hello:
            let minimum = try reader.readUInt16("hello.minimumVersion")
            let maximum = try reader.readUInt16("hello.maximumVersion")
            let organisationStart = reader.offset
            let organisation = try reader.readText("hello.organisation", maximumBytes: OrganisationID.maximumBytes)
            let name = try reader.readText("hello.node", maximumBytes: NodeID.maximumNameBytes)
            guard let organisationID = OrganisationID(rawValue: organisation),
                let node = NodeID(organisation: organisationID, name: name)
            else { throw DecodingError("hello.node", at: organisationStart, "not a valid organisation and node name") }
            message = .hello(Hello(
                minimumVersion: minimum, maximumVersion: maximum, node: node, clockMillis: try reader.readUInt64("hello.clock")
            ))
        case .helloAccepted:
            message = .helloAccepted(version: try reader.readUInt16("helloAccepted.version"))
        case .error:
            let code = try reader.readUInt16("error.code")
            message = .error(code: code, message: try reader.readText("error.message", maximumBytes: maximumErrorMessageBytes))
        case .ping:
            message = .ping(nonce: try reader.readUInt64("ping.nonce"))
        case .pong:
            message = .pong(nonce: try reader.readUInt64("pong.nonce"))
        case .changes:
            let batch = try reader.readUInt32("changes.batch")
            let encoded = try reader.readSequence(
                "changes.encoded", maximumCount: maximumChangesPerBatch, minimumElementBytes: 4
            ) { reader throws(DecodingError) in
                try WireMessage.readBlob(&reader, "changes.change", maximumBytes: Change.maximumEncodedBytes + 64)
            }
            message = .changes(batch: batch, encoded: encoded)
        case .acknowledged:
            message = .acknowledged(batch: try reader.readUInt32("acknowledged.batch"))
        case .certificates:
            message = .certificates(try reader.readSequence(
                "certificates", maximumCount: maximumCertificates, minimumElementBytes: 4
            ) { reader throws(DecodingError) in
                try WireMessage.readBlob(&reader, "certificates.der", maximumBytes: 16 * 1024)
            })
        case .attributions:
            message = .attributions(try reader.readSequence(
                "attributions", maximumCount: maximumChangesPerBatch, minimumElementBytes: 4
            ) { reader throws(DecodingError) in
                try WireMessage.readBlob(&reader, "attributions.attribution", maximumBytes: Attribution.maximumEncodedBytes)
            })
        case .passkeySignatures:
            message = .passkeySignatures(try reader.readSequence(
                "passkeySignatures", maximumCount: maximumChangesPerBatch, minimumElementBytes: 4
            ) { reader throws(DecodingError) in
                try WireMessage.readBlob(&reader, "passkeySignatures.signature", maximumBytes: PasskeySignature.maximumEncodedBytes)
            })
        case .reconcile:
            message = .reconcile(RangeMessage(ranges: try reader.readSequence(
                "reconcile.ranges", maximumCount: maximumRanges, minimumElementBytes: 2
            ) { reader throws(DecodingError) in try WireMessage.readRange(&reader) }))
        case .heads:
            let isFinal = try reader.readBool("heads.final")
            let entries = try reader.readSequence(
                "heads.entries", maximumCount: maximumHeadsEntries, minimumElementBytes: 20
            ) { reader throws(DecodingError) in
                let agreement = AgreementID(UUIDBytes(bytes: try reader.readFixed(16, "heads.agreement"))!)
                let heads = try reader.readSequence(
                    "heads.heads", maximumCount: maximumHeadsPerAgreement, minimumElementBytes: 32
                ) { reader throws(DecodingError) in SHA256Digest(bytes: try reader.readFixed(32, "heads.head"))! }
                return HeadsMessage.Entry(agreement: agreement, heads: heads)
            }
            message = .heads(HeadsMessage(entries: entries, isFinal: isFinal))
        case .reconcileRequest:
            message = .reconcileRequest
        }
        try reader.expectEnd("frame payload")
        return message
    }

    private static func readRange(_ reader: inout CanonicalReader) throws(DecodingError) -> RangeMessage.Range {
        let upper = try reader.readOptional("reconcile.upperBound") { reader throws(DecodingError) in
            AgreementID(UUIDBytes(bytes: try reader.readFixed(16, "reconcile.upperBound"))!)
        }
        let start = reader.offset
        switch try reader.readUInt8("reconcile.claim") {
        case 0:
            return .init(upperBound: upper, claim: .skip)
        case 1:
            let fingerprint = Fingerprint(high: try reader.readUInt64("reconcile.fingerprint"), low: try reader.readUInt64("reconcile.fingerprint"))
            return .init(upperBound: upper, claim: .fingerprint(fingerprint, count: try reader.readUInt32("reconcile.count")))
        case 2:
            let wantsReply = try reader.readBool("reconcile.wantsReply")
            let items = try reader.readSequence(
                "reconcile.items", maximumCount: maximumItemsPerRange, minimumElementBytes: 48
            ) { reader throws(DecodingError) in
                ReconciliationItem(
                    agreement: AgreementID(UUIDBytes(bytes: try reader.readFixed(16, "reconcile.item.agreement"))!),
                    headsDigest: SHA256Digest(bytes: try reader.readFixed(32, "reconcile.item.digest"))!
                )
            }
            return .init(upperBound: upper, claim: .items(items, wantsReply: wantsReply))
        case 3:
            let symbolStart = try reader.readUInt32("reconcile.symbols.start")
            let count = try reader.readUInt32("reconcile.symbols.count")
            let symbols = try reader.readSequence(
                "reconcile.symbols", maximumCount: maximumSymbolsPerRange, minimumElementBytes: CodedSymbol.encodedBytes
            ) { reader throws(DecodingError) in
                let sum = SymbolItem(words: (
                    try reader.readUInt64("reconcile.symbol.sum"), try reader.readUInt64("reconcile.symbol.sum"),
                    try reader.readUInt64("reconcile.symbol.sum"), try reader.readUInt64("reconcile.symbol.sum")
                ))
                let checksum = try reader.readUInt64("reconcile.symbol.checksum")
                return CodedSymbol(sum: sum, checksum: checksum, count: Int64(try reader.readUInt32("reconcile.symbol.count")))
            }
            return .init(upperBound: upper, claim: .symbols(start: symbolStart, count: count, symbols))
        case 4:
            return .init(upperBound: upper, claim: .moreSymbols(next: try reader.readUInt32("reconcile.moreSymbols.next")))
        case let other:
            throw DecodingError("reconcile.claim", at: start, "unknown claim \(other)")
        }
    }

    private static func readBlob(_ reader: inout CanonicalReader, _ what: StaticString, maximumBytes: Int) throws(DecodingError) -> [UInt8] {
        let start = reader.offset
        let count = Int(try reader.readUInt32(what))
        guard count <= maximumBytes else {
            throw DecodingError(what, at: start, "\(count) bytes exceed the limit of \(maximumBytes)")
        }
        return Array(try reader.readFixed(count, what))
    }
}

/// The heads this side has of agreements found different: the peer answers with the changes
/// not in their causal past.
public struct HeadsMessage: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var agreement: AgreementID
        /// Empty when this side holds nothing of the agreement.
        public var heads: [ChangeID]

        public init(agreement: AgreementID, heads: [ChangeID]) {
            self.agreement = agreement
            self.heads = heads
        }
    }

    public var entries: [Entry]
    public var isFinal: Bool

    public init(entries: [Entry], isFinal: Bool) {
        self.entries = entries
        self.isFinal = isFinal
    }
}

/// Encoded sizes, for packing frames within their limits and counting traffic without encoding
/// twice. `FrameCodecTests` checks each against the encoder.
extension WireMessage {
    /// A frame's prefix: `u32` length and `u8` type.
    public static let frameHeaderBytes = 5
    /// A `changes` frame holding no change: the prefix, the batch number and the count.
    public static let changesFrameOverhead = frameHeaderBytes + 4 + 4

    /// One signed change inside a `changes` frame: its `u32` length and its bytes.
    public static func changeEntryBytes(_ encoded: [UInt8]) -> Int { 4 + encoded.count }

    /// A whole `changes` frame.
    public static func changesFrameBytes(_ encoded: [[UInt8]]) -> Int {
        encoded.reduce(changesFrameOverhead) { $0 + changeEntryBytes($1) }
    }
}

extension HeadsMessage.Entry {
    /// The entry inside a `heads` frame: the agreement id, a `u32` count and the head ids.
    public var encodedBytes: Int { UUIDBytes.byteCount + 4 + SHA256Digest.byteCount * heads.count }
}

extension RangeMessage.Range {
    /// The range inside a `reconcile` frame: its optional bound, the claim's tag and the claim.
    public var encodedBytes: Int {
        let bound = 1 + (upperBound == nil ? 0 : UUIDBytes.byteCount)
        switch claim {
        case .skip: return bound + 1
        case .fingerprint: return bound + 1 + 8 + 8 + 4
        case .items(let items, _): return bound + 1 + 1 + 4 + (UUIDBytes.byteCount + SHA256Digest.byteCount) * items.count
        case .symbols(_, _, let symbols): return bound + 1 + 4 + 4 + 4 + CodedSymbol.encodedBytes * symbols.count
        case .moreSymbols: return bound + 1 + 4
        }
    }
}
