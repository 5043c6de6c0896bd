import AccordRefusals
import AccordAdminAPI
import AccordPeople
import AccordSync
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// What the console's middleware checks with — the `Host` values it answers to, its session
/// cookie, its sessions — and how it refuses: one line in the log (summarised in a flood), a
/// count in `accord_console_refusals_total`, and a page that says why.
struct ConsoleGate: Sendable {
    /// `Host` values the console answers to (its address, and `localhost` for a loopback one):
    /// a page of another site that a DNS rebinding points at this address is refused.
    let hosts: Set<String>
    /// The session cookie's name, with the port in it: browsers keep cookies per host, not per
    /// port, and the consoles of a local cluster share 127.0.0.1.
    let cookie: String
    let authority: ConsoleAuthority
    let counters: AdminCounters
    let refusals: RefusalLog

    /// A POST's `Origin` (sent by every current browser) must be this console; a request with
    /// none is judged by its CSRF token alone.
    func sameOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        return origin.lowercased() == "http://\((request.head.authority ?? "").lowercased())"
    }

    func refuse(
        _ request: Request, _ context: AccordRequestContext, _ reason: String, _ status: HTTPResponse.Status, _ message: String
    ) -> Response {
        var metadata: Logger.Metadata = ["path": "\(request.uri.path)", "source": "\(context.remoteAddress ?? "unknown")"]
        if let person = context.consoleSession?.person { metadata["person"] = "\(person.subject)" }
        refusals.refused("console request refused", reason: reason, level: .notice, metadata: metadata)
        counters.consoleRefused(reason)
        return ConsoleRoutes.page(ConsolePages.problem(status.reasonPhrase, message, nil), status: status)
    }

    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool { AccordPeople.constantTimeEqual(lhs, rhs) }
}

/// The headers of every answer: no script, style, frame, form target or connection but this
/// origin's; no sniffing, nothing cached, no referrer to other sites. (`same-origin`, not
/// `no-referrer`: under `no-referrer` a browser sends `Origin: null` with a form's POST, and the
/// origin check could not tell the console's own forms from anyone's.) An error below it becomes a
/// page with these headers too.
struct ConsoleHeadersMiddleware: RouterMiddleware {
    typealias Context = AccordRequestContext

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        .xContentTypeOptions: "nosniff", HTTPField.Name("X-Frame-Options")!: "DENY", HTTPField.Name("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-store", HTTPField.Name("Cross-Origin-Opener-Policy")!: "same-origin",
        HTTPField.Name("Cross-Origin-Resource-Policy")!: "same-origin",
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed {
            response = ConsoleRoutes.page(ConsolePages.problem("Not found", "There is no such page.", nil), status: .notFound)
        } catch let failure as AdminFailure {
            response = ConsoleRoutes.page(ConsolePages.problem("Not available", failure.body.message, nil), status: failure.status)
        } catch {
            response = ConsoleRoutes.page(ConsolePages.problem("Not available", "\(error)", nil), status: .internalServerError)
        }
        for field in Self.securityHeaders where response.headers[field.name] == nil { response.headers.append(field) }
        return response
    }
}

/// Refuses a request for another `Host` (421) before anything else looks at it.
struct ConsoleHostMiddleware: RouterMiddleware {
    typealias Context = AccordRequestContext
    let gate: ConsoleGate

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let host = request.head.authority, gate.hosts.contains(host.lowercased()) else {
            return gate.refuse(
                request, context, "wrong-host", .misdirectedRequest, "This console answers at \(gate.hosts.sorted().joined(separator: " or ")) only."
            )
        }
        return try await next(request, context)
    }
}

/// Finds the request's session by its cookie; without one, a page asks to log in (the event
/// stream and actions get 401).
struct ConsoleSessionMiddleware: RouterMiddleware {
    typealias Context = AccordRequestContext
    let gate: ConsoleGate

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let cookie = Cookies(from: request.headers[values: .cookie])[gate.cookie]?.value
        guard let id = cookie, let session = gate.authority.session(id) else {
            if request.method == .get, request.uri.path != "/events" { return ConsoleRoutes.redirect("/login") }
            return gate.refuse(request, context, "no-session", .unauthorized, "Log in first.")
        }
        var context = context
        context.consoleSession = ConsoleSessionIdentity(id: id, csrf: session.csrf, person: session.person)
        return try await next(request, context)
    }
}

/// An action (a POST) must come from a page of this console: this origin, and the session's CSRF
/// token in its form. The body is read here, bounded, and handed on.
struct ConsoleFormMiddleware: RouterMiddleware {
    typealias Context = AccordRequestContext
    let gate: ConsoleGate

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post else { return try await next(request, context) }
        var request = request
        let body = try await request.body(upTo: ConsoleRoutes.maximumBodyBytes)
        request.body = RequestBody(buffer: ByteBuffer(bytes: body))
        guard gate.sameOrigin(request), let session = context.consoleSession, let csrf = FormFields.decode(body)["csrf"],
            ConsoleGate.constantTimeEqual(csrf, session.csrf)
        else {
            return gate.refuse(request, context, "bad-csrf", .forbidden, "This action did not come from a page of this console (missing or wrong CSRF token).")
        }
        return try await next(request, context)
    }
}

/// A request needs `role`: without it, 403 naming the role that is missing (logged and counted
/// as `missing-role`). Runs after the session and CSRF checks, so a refused action is one the
/// person really sent.
struct ConsoleRoleMiddleware: RouterMiddleware {
    typealias Context = AccordRequestContext
    let role: Role
    let gate: ConsoleGate

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let person = context.consoleSession?.person, person.roles.grants(role) else {
            let held = context.consoleSession?.person.roles.description ?? "no session"
            return gate.refuse(request, context, "missing-role", .forbidden, "This needs the \(role.rawValue) role; you have \(held).")
        }
        return try await next(request, context)
    }
}
