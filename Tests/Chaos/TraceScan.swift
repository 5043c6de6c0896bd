import Foundation

/// Finds which agreements leave a trace in a node's bytes — the id as text, the id's 16 bytes, or
/// the agreement's token — in one pass over the bytes, whatever the number of agreements.
///
/// The soak's need-to-know check asks this of every node: a long soak creates thousands of
/// agreements and each node holds tens of megabytes, so searching the bytes once per agreement
/// (agreements × bytes) does not finish; one pass with set lookups does, in seconds.
struct TraceScan {
    /// The 16 bytes of an id, as two words (hashable without an allocation).
    private struct IdBytes: Hashable {
        let high: UInt64
        let low: UInt64
    }

    private let byText: [String: String]
    private let byBytes: [IdBytes: String]
    private let byToken: [String: String]
    /// One bit per value of an id's first three bytes: most offsets are ruled out by one load.
    private var firstBytes = [UInt64](repeating: 0, count: (1 << 24) / 64)

    private static let tokenPrefix = Array("chaos#".utf8)
    private static let hash = UInt8(ascii: "#")
    private static let dash = UInt8(ascii: "-")

    /// `agreements`: id (text, as the admin API writes it) → token.
    init(agreements: [String: String]) {
        var byBytes: [IdBytes: String] = [:]
        for id in agreements.keys {
            guard let uuid = UUID(uuidString: id) else { continue }
            let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
            byBytes[Self.idBytes(bytes, at: 0)] = id
            let first = Int(bytes[0]) << 16 | Int(bytes[1]) << 8 | Int(bytes[2])
            firstBytes[first >> 6] |= 1 << UInt64(first & 63)
        }
        self.byBytes = byBytes
        byText = Dictionary(uniqueKeysWithValues: agreements.keys.map { ($0, $0) })
        byToken = Dictionary(agreements.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
    }

    /// The ids of the agreements of which `bytes` hold a trace.
    func traces(in bytes: [UInt8]) -> Set<String> {
        var found: Set<String> = []
        let count = bytes.count
        bytes.withUnsafeBufferPointer { bytes in
            for offset in 0..<count {
                if offset + 16 <= count {
                    let first = Int(bytes[offset]) << 16 | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
                    if firstBytes[first >> 6] & (1 << UInt64(first & 63)) != 0,
                        let id = byBytes[Self.idBytes(bytes, at: offset)]
                    {
                        found.insert(id)
                    }
                }
                if offset + 36 <= count, bytes[offset + 8] == Self.dash, bytes[offset + 13] == Self.dash,
                    bytes[offset + 18] == Self.dash, bytes[offset + 23] == Self.dash,
                    let id = byText[String(decoding: bytes[offset..<offset + 36], as: UTF8.self)]
                {
                    found.insert(id)
                }
                if bytes[offset] == Self.tokenPrefix[0], let token = Self.token(in: bytes, at: offset), let id = byToken[token] {
                    found.insert(id)
                }
            }
        }
        return found
    }

    /// The token `chaos#NUMBER#SEED#` starting at `offset`, if one does.
    private static func token(in bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> String? {
        guard offset + tokenPrefix.count <= bytes.count,
            bytes[offset..<offset + tokenPrefix.count].elementsEqual(tokenPrefix)
        else { return nil }
        var end = offset + tokenPrefix.count
        for _ in 0..<2 {
            // Numbers are short; a token longer than this is not one the soak wrote.
            let limit = min(bytes.count, end + 16)
            guard let terminator = (end..<limit).first(where: { bytes[$0] == hash }) else { return nil }
            end = terminator + 1
        }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }

    private static func idBytes<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, at offset: Bytes.Index) -> IdBytes
    where Bytes.Index == Int {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 {
            high = high << 8 | UInt64(bytes[offset + index])
            low = low << 8 | UInt64(bytes[offset + 8 + index])
        }
        return IdBytes(high: high, low: low)
    }
}
