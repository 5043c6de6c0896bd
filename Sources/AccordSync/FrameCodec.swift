import AccordModel
public import NIOCore

/// A frame that cannot be accepted. The session that receives one closes with this reason.
public struct FrameError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// The length prefix announces more than the maximum frame size.
        case oversized
        /// A zero-length frame, or a payload that does not follow the message format.
        case malformed
        /// A type byte this version does not know.
        case unknownType = "unknown-type"
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// The largest frame one connection accepts. Before its session is established only a `hello`
/// or an `error` is legitimate, so the limit starts small and `PeerSessionHandler` raises it once
/// both hellos were exchanged: an unauthenticated peer cannot make the node buffer a 1 MiB frame
/// per connection. Belongs to the connection's event loop.
public final class FrameLimit {
    /// A hello (two versions, an organisation, a node name, a clock) or an error (≤ 4 KiB of text)
    /// with room to spare.
    public static let beforeSession = 8 * 1024
    /// 1 MiB: room for a batch of changes, far below what could hurt a node.
    public static let established = 1 << 20

    public var maximumFrameBytes: Int

    public init(maximumFrameBytes: Int = FrameLimit.beforeSession) {
        self.maximumFrameBytes = maximumFrameBytes
    }
}

@available(*, unavailable)
extension FrameLimit: Sendable {}

/// Splits the byte stream into frames: `u32 length || u8 type || payload`, where `length` counts
/// the type byte and the payload. The length is checked against the connection's current limit
/// before anything is buffered beyond the 4-byte prefix, so a forged length cannot make a node
/// allocate.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = WireMessage

    public static let defaultMaximumFrameBytes = FrameLimit.established

    public let limit: FrameLimit

    public var maximumFrameBytes: Int { limit.maximumFrameBytes }

    /// A decoder whose limit the connection's session handler raises once the session starts.
    public init(limit: FrameLimit) {
        self.limit = limit
    }

    /// A decoder with a fixed limit (tests, fuzzing, tools).
    public init(maximumFrameBytes: Int = defaultMaximumFrameBytes) {
        self.limit = FrameLimit(maximumFrameBytes: maximumFrameBytes)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try Self.nextMessage(from: &buffer, maximumFrameBytes: limit.maximumFrameBytes) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(message))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// Takes one complete frame off the front of `buffer`, or nothing if it is not all there yet.
    public static func nextMessage(from buffer: inout ByteBuffer, maximumFrameBytes: Int) throws(FrameError) -> WireMessage? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length > 0 else { throw FrameError(code: .malformed, message: "a frame of length 0 has no type") }
        guard length <= maximumFrameBytes else {
            throw FrameError(code: .oversized, message: "a frame of \(length) bytes exceeds the limit of \(maximumFrameBytes)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let type = buffer.readInteger(as: UInt8.self)!
        let payload = buffer.readBytes(length: Int(length) - 1)!
        guard let kind = WireMessage.Kind(rawValue: type) else {
            throw FrameError(code: .unknownType, message: "frame type \(type) is not part of protocol version 1")
        }
        do {
            return try WireMessage.decode(kind: kind, payload: payload)
        } catch {
            throw FrameError(code: .malformed, message: "\(kind) frame: \(error)")
        }
    }
}

/// Writes each message as one frame.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = WireMessage

    public init() {}

    public func encode(data message: WireMessage, out: inout ByteBuffer) throws {
        out.writeBytes(Self.frame(message))
    }

    /// The frame bytes of one message.
    public static func frame(_ message: WireMessage) -> [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 64)
        writer.write(UInt32(0))
        writer.write(message.kind.rawValue)
        message.encodePayload(into: &writer)
        var bytes = writer.bytes
        let length = UInt32(bytes.count - 4)
        bytes[0] = UInt8(truncatingIfNeeded: length >> 24)
        bytes[1] = UInt8(truncatingIfNeeded: length >> 16)
        bytes[2] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[3] = UInt8(truncatingIfNeeded: length)
        return bytes
    }
}
