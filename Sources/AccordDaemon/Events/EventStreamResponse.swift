import AccordAdminAPI
import Foundation
import NIOHTTP1

/// `GET /v1/events` (and the console's `/events`): the hub's events as server-sent events
/// (text/event-stream), resumable with `?since=ID` or the `Last-Event-ID` header.
enum EventStreamResponse {
    /// A comment line is sent when nothing else was for this long, so a client (or a proxy)
    /// sees the stream is alive and a client that went away is noticed by the failed write.
    static let heartbeat: Duration = .seconds(15)

    static func response(_ request: AdminRequest, hub: EventHub, origin: EventHub.Origin = .admin) -> AdminResponse {
        let since = request.query["since"] ?? request.headers.first(name: "Last-Event-ID")
        let subscription: EventSubscription
        do {
            subscription = try hub.subscribe(since: since, agreement: request.query["agreement"], origin: origin)
        } catch {
            return AdminFailure(.serviceUnavailable, "too-many-subscribers", error.description).response
        }
        var response = AdminResponse(contentType: "text/event-stream; charset=utf-8", body: [])
        response.headers = [("Cache-Control", "no-store")]
        // A subscriber that reads slowly falls behind and is told it lost events; one that reads
        // nothing at all is cut off by the HTTP exchange (`HTTPExchange.stallTimeout`).
        response.stream = ResponseStream { send in
            defer { subscription.cancel() }
            // The first line goes out at once: the client knows it is subscribed before any event.
            try await send(Array(": subscribed; latest event \(hub.latestID)\n\n".utf8))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Ends after an `events-lost` for falling behind: the client resumes with `since`.
                    while let event = await subscription.next() { try await send(encode(event)) }
                }
                // Writes from the two tasks are whole events or comments, each complete on the socket.
                group.addTask {
                    while true {
                        try await Task.sleep(for: heartbeat)
                        try await send(Array(": keepalive\n\n".utf8))
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        }
        return response
    }

    /// One event in the text/event-stream format: `id`, `event` and a one-line JSON `data`.
    static func encode(_ event: NodeEvent) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(event)) ?? Data("{}".utf8)
        return Array("id: \(event.id)\nevent: \(event.type.rawValue)\ndata: ".utf8) + data + Array("\n\n".utf8)
    }
}
