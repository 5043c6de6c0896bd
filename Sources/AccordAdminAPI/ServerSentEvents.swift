/// Reads a text/event-stream (the WHATWG format `GET /v1/events` writes) into events, from
/// chunks as they arrive. Keeps at most `maximumEventBytes` of an unfinished event: a stream
/// that never ends an event fails instead of growing memory.
public struct ServerSentEventParser: Sendable {
    public struct Event: Sendable, Equatable {
        public var id: String?
        public var type: String?
        public var data: String

        public init(id: String? = nil, type: String? = nil, data: String) {
            self.id = id
            self.type = type
            self.data = data
        }
    }

    public struct TooLarge: Error, CustomStringConvertible {
        public let limit: Int
        public var description: String { "an event of the stream is longer than \(limit) bytes" }
    }

    public let maximumEventBytes: Int
    private var pending: [UInt8] = []
    private var current = Event(data: "")
    private var hasData = false

    public init(maximumEventBytes: Int = 1024 * 1024) { self.maximumEventBytes = maximumEventBytes }

    /// The events completed by `chunk` (comments, such as keepalives, are skipped).
    public mutating func feed(_ chunk: some Sequence<UInt8>) throws(TooLarge) -> [Event] {
        var events: [Event] = []
        for byte in chunk {
            guard byte == UInt8(ascii: "\n") else {
                pending.append(byte)
                guard pending.count <= maximumEventBytes else { throw TooLarge(limit: maximumEventBytes) }
                continue
            }
            if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
            let line = String(decoding: pending, as: UTF8.self)
            pending.removeAll(keepingCapacity: true)
            if line.isEmpty {
                if hasData { events.append(current) }
                (current, hasData) = (Event(data: ""), false)
                continue
            }
            if line.hasPrefix(":") { continue }
            let (field, value) = Self.split(line)
            switch field {
            case "id": current.id = value
            case "event": current.type = value
            case "data":
                current.data += hasData ? "\n" + value : value
                hasData = true
                guard current.data.utf8.count <= maximumEventBytes else { throw TooLarge(limit: maximumEventBytes) }
            default: break
            }
        }
        return events
    }

    private static func split(_ line: String) -> (String, String) {
        guard let colon = line.firstIndex(of: ":") else { return (line, "") }
        var value = line[line.index(after: colon)...]
        if value.first == " " { value = value.dropFirst() }
        return (String(line[..<colon]), String(value))
    }
}
