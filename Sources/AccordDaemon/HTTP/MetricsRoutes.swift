import Hummingbird

/// `GET /metrics`: the node's metrics in Prometheus's text format. The admin socket serves it
/// beside the admin API; the metrics listener (`[metrics] address`) serves it alone, so that
/// Prometheus can scrape over TCP without reaching anything that reads agreements or writes.
struct MetricsRoutes {
    let administration: NodeAdministration

    /// Prometheus text exposition format 0.0.4.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The metrics listener's router: `GET /metrics` and nothing else (404 for any other path or
    /// method). No handler reads a request body.
    func router() -> Router<AccordRequestContext> {
        let router = Router(context: AccordRequestContext.self)
        router.add(middleware: AdminErrorMiddleware())
        add(to: router)
        return router
    }

    /// Adds `GET /metrics` to `router`.
    func add(to router: Router<AccordRequestContext>) {
        let administration = self.administration
        router.get("metrics") { _, _ in Response.text(try await administration.metrics(), contentType: Self.contentType) }
    }
}
