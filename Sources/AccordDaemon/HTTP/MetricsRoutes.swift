import Hummingbird
import NIOConcurrencyHelpers

/// `GET /metrics`: the node's metrics in Prometheus's text format. The admin socket serves it
/// beside the admin API; the metrics listener (`[metrics] address`) serves it alone, so that
/// Prometheus can scrape over TCP without reaching anything that reads agreements or writes.
struct MetricsRoutes {
    let administration: NodeAdministration

    /// Prometheus text exposition format 0.0.4.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The metrics listener's router: `GET /metrics` and nothing else (404 for any other path or
    /// method). No handler reads a request body. Its clients are not authenticated and a render
    /// reads the store, so the text is rendered at most once a second however often it is asked
    /// for (`RecentRendering`); the admin socket, a local operator's, always renders afresh.
    func router() -> Router<AccordRequestContext> {
        let router = Router(context: AccordRequestContext.self)
        router.add(middleware: AdminErrorMiddleware())
        let (administration, recent) = (administration, RecentRendering())
        router.get("metrics") { _, _ in
            Response.text(try await recent.text { try await administration.metrics() }, contentType: Self.contentType)
        }
        return router
    }

    /// Adds `GET /metrics` to `router`.
    func add(to router: Router<AccordRequestContext>) {
        let administration = self.administration
        router.get("metrics") { _, _ in Response.text(try await administration.metrics(), contentType: Self.contentType) }
    }
}

/// The last rendered metrics text, reused for `freshFor`: a flood of scrapes costs one render a
/// second (plus one per request that arrives while none is fresh, at most one per connection).
final class RecentRendering: Sendable {
    static let freshFor: Duration = .seconds(1)
    private let latest = NIOLockedValueBox<(at: ContinuousClock.Instant, text: String)?>(nil)

    func text(_ render: () async throws -> String) async throws -> String {
        let now = ContinuousClock.now
        if let latest = latest.withLockedValue({ $0 }), now - latest.at < Self.freshFor { return latest.text }
        let text = try await render()
        latest.withLockedValue { $0 = (now, text) }
        return text
    }
}
