import AccordAdminAPI
import Foundation
import HTTPTypes
import Hummingbird

/// `GET /v1/events` (and the console's `/events`): the hub's events as server-sent events
/// (text/event-stream), resumable with `?since=ID` or the `Last-Event-ID` header.
enum EventStreamResponse {
    /// A comment line is sent when nothing else was for this long, so a client (or a proxy)
    /// sees the stream is alive and a client that went away is noticed by the failed write.
    static let heartbeat: Duration = .seconds(15)

    static func response(_ request: Request, hub: EventHub, origin: EventHub.Origin = .admin) -> Response {
        let query = request.queryFields
        let since = query["since"] ?? request.header("Last-Event-ID")
        let subscription: EventSubscription
        do {
            subscription = try hub.subscribe(since: since, agreement: query["agreement"], origin: origin)
        } catch {
            return AdminFailure(.serviceUnavailable, "too-many-subscribers", error.description).response
        }
        // One loop writes events and heartbeats: a subscriber that reads slowly falls behind and
        // is told it lost events; one that reads nothing at all is cut off by its connection's
        // `WriteStallHandler`.
        let body = ResponseBody { writer in
            defer { subscription.cancel() }
            // The first line goes out at once: the client knows it is subscribed before any event.
            try await writer.write(ByteBuffer(string: ": subscribed; latest event \(hub.latestID)\n\n"))
            streaming: while true {
                switch await subscription.next(idleAfter: heartbeat) {
                case .event(let event): try await writer.write(ByteBuffer(bytes: encode(event)))
                case .idle: try await writer.write(ByteBuffer(string: ": keepalive\n\n"))
                // After an `events-lost` for falling behind: the client resumes with `since`.
                case .ended: break streaming
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"], body: body)
    }

    /// One event in the text/event-stream format: `id`, `event` and a one-line JSON `data`.
    static func encode(_ event: NodeEvent) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(event)) ?? Data("{}".utf8)
        return Array("id: \(event.id)\nevent: \(event.type.rawValue)\ndata: ".utf8) + data + Array("\n\n".utf8)
    }
}
