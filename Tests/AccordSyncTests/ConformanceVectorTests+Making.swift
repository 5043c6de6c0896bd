import AccordCrypto
import AccordModel
import AccordSync
import AccordTestSupport

/// How some conformance vectors are made: edits as data, and the whole coded-symbol decoding.
extension ConformanceVectorTests {
    /// An edit as data: `edit` (set, addParty, withdrawParty, removeCommitment, approve, note,
    /// terminate) and its operands; a set names its `field` (as encoding.md's field tags:
    /// title, category, framework.DIMENSION, term.effectiveFrom, term.expiresOn,
    /// commitment.ATTRIBUTE with its `commitment` id), the `valueKind` and the `value` (absent:
    /// a date cleared).
    static func structured(_ edit: Edit) -> [String: String] {
        switch edit {
        case .set(let field, let value):
            var entry = ["edit": "set"]
            switch field {
            case .commitment(let id, let attribute):
                entry["field"] = "commitment.\(attribute.name)"
                entry["commitment"] = id.description
            default:
                entry["field"] = field.description
            }
            switch value {
            case .text(let text): entry["valueKind"] = "text"; entry["value"] = text
            case .category(let category): entry["valueKind"] = "category"; entry["value"] = category.name
            case .date(let date): entry["valueKind"] = "date"; entry["value"] = date?.description
            case .organisation(let organisation): entry["valueKind"] = "organisation"; entry["value"] = organisation.rawValue
            case .commitmentKind(let kind): entry["valueKind"] = "commitmentKind"; entry["value"] = kind.name
            case .commitmentState(let state): entry["valueKind"] = "commitmentState"; entry["value"] = state.name
            case .amount(let amount): entry["valueKind"] = "amount"; entry["value"] = amount?.description
            case .schedule(let schedule): entry["valueKind"] = "schedule"; entry["value"] = schedule?.description
            case .days(let days): entry["valueKind"] = "days"; entry["value"] = days.map(String.init)
            }
            return entry
        case .addParty(let organisation): return ["edit": "addParty", "organisation": organisation.rawValue]
        case .withdrawParty(let organisation): return ["edit": "withdrawParty", "organisation": organisation.rawValue]
        case .removeCommitment(let id): return ["edit": "removeCommitment", "commitment": id.description]
        case .approve(let organisation, let hash, let signature):
            return ["edit": "approve", "organisation": organisation.rawValue, "termsHash": hash.hex, "signature": HexEncoding.encode(signature.rawRepresentation)]
        case .note(let text): return ["edit": "note", "text": text]
        case .terminate(let reason): return ["edit": "terminate", "reason": reason]
        case .progress(let id, let period, let step, let text):
            var entry = ["edit": "progress", "commitment": id.description, "step": step.name, "text": text]
            entry["period"] = period?.description
            return entry
        case .void(let reason): return ["edit": "void", "reason": reason]
        case .consentToRemoval(let organisation): return ["edit": "consentToRemoval", "organisation": organisation.rawValue]
        case .removeParty(let organisation): return ["edit": "removeParty", "organisation": organisation.rawValue]
        case .agreeTermination(let reason): return ["edit": "agreeTermination", "reason": reason]
        }
    }

    /// The decoding vector: windows of the documented lengths until the decoder is done.
    static func decoding() throws -> Vectors.DecodingVector {
        func item(_ n: Int) -> ReconciliationItem {
            ReconciliationItem(
                agreement: AgreementID(UUIDBytes(high: 0x0123_4567_89AB_8CDE, low: UInt64(1000 + n))),
                headsDigest: SHA256Digest(hashing: [UInt8(n & 0xFF), UInt8(n >> 8)])
            )
        }
        let (sender, decoderItems) = ((0..<55).map(item), (25..<80).map(item))
        let encoder = SymbolEncoder(entries: ArraySlice(sender.map(SymbolEncoder.Entry.init)))
        var decoder = SymbolDecoder(local: SymbolEncoder(entries: ArraySlice(decoderItems.map(SymbolEncoder.Entry.init))))
        var windows: [Vectors.DecodingVector.Window] = []
        while !decoder.isDecoded {
            // protocol.md, "Coded symbols": 16 first, then min(max(⌊next / 2⌋, 16), 4096).
            let next = decoder.symbolCount
            let length = next == 0 ? 16 : min(max(next / 2, 16), 4096)
            let symbols = encoder.symbols(next..<next + length)
            decoder.add(symbols)
            guard !decoder.isInconsistent, windows.count < 16 else { throw TestFailure("the decoding vector does not decode") }
            windows.append(.init(next: UInt32(next), symbols: symbols.map(Self.hex)))
        }
        func sorted(_ sign: Int64) -> [String] { decoder.recovered.filter { $0.value == sign }.map { Self.hex($0.key) }.sorted() }
        return Vectors.DecodingVector(
            senderItems: sender.map { Self.hex(SymbolItem($0)) }, decoderItems: decoderItems.map { Self.hex(SymbolItem($0)) },
            windows: windows, onlySender: sorted(1), onlyDecoder: sorted(-1)
        )
    }

    /// A symbol as a `symbols` claim carries it: sum, checksum, `u32` count.
    static func hex(_ symbol: CodedSymbol) -> String {
        Self.hex(symbol.sum) + Self.hex(symbol.checksum) + String(Self.hex(UInt64(symbol.count)).suffix(8))
    }
}
