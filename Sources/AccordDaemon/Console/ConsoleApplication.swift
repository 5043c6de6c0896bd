import AccordAdminAPI
import AccordModel
import AccordStore
import AccordSync
import Foundation
import Logging
import NIOHTTP1

/// The web console's requests: who may make them (session cookie, CSRF token, Host), and what
/// they show or do. Pages come from `ConsolePages`, data and actions from `NodeAdministration`,
/// the same code the admin API runs, so the console and `accordctl` never disagree.
final class ConsoleApplication: Sendable {
    /// Form bodies are small: a note is at most 4 KiB.
    static let maximumBodyBytes = 64 * 1024

    let administration: NodeAdministration
    let authority: ConsoleAuthority
    let events: EventHub
    /// `Host` values the console answers to (its address, and `localhost` for a loopback one):
    /// a page of another site that a DNS rebinding points at this address is refused.
    let hosts: Set<String>
    /// The session cookie's name, with the port in it: browsers keep cookies per host, not per
    /// port, and the consoles of a local cluster share 127.0.0.1.
    let cookie: String
    private let refusals: RefusalLog

    init(
        administration: NodeAdministration, authority: ConsoleAuthority, events: EventHub, address: ConsoleAddress, logger: Logger,
        refusals: RefusalLog
    ) {
        self.hosts = address.hostHeaders
        self.cookie = "accord_session_\(address.port)"
        self.administration = administration
        self.authority = authority
        self.events = events
        self.refusals = refusals
    }

    /// Headers of every answer: no script, style, frame, form target or connection but this
    /// origin's; no sniffing, nothing cached, no referrer to other sites. (`same-origin`, not
    /// `no-referrer`: under `no-referrer` a browser sends `Origin: null` with a form's POST,
    /// and the origin check could not tell the console's own forms from anyone's.)
    static let securityHeaders: [(name: String, value: String)] = [
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"), ("Referrer-Policy", "same-origin"),
        ("Cache-Control", "no-store"), ("Cross-Origin-Opener-Policy", "same-origin"), ("Cross-Origin-Resource-Policy", "same-origin"),
    ]

    func handle(_ request: AdminRequest) async -> AdminResponse {
        var response = await route(request)
        response.headers += Self.securityHeaders
        return response
    }

    private func route(_ request: AdminRequest) async -> AdminResponse {
        guard let host = request.headers.first(name: "Host"), hosts.contains(host.lowercased()) else {
            return refuse(request, "wrong-host", .misdirectedRequest, "This console answers at \(hosts.sorted().joined(separator: " or ")) only.")
        }
        let path = request.path
        switch (request.method, path) {
        case (.GET, ["static", "console.css"]): return asset(ConsoleAssets.css, "text/css; charset=utf-8")
        case (.GET, ["static", "console.js"]): return asset(ConsoleAssets.javascript, "text/javascript; charset=utf-8")
        case (.GET, ["login"]): return page(ConsolePages.login(error: nil))
        case (.POST, ["login"]): return logIn(request, host: host)
        default: break
        }
        guard let sessionID = Self.cookies(request)[cookie], let session = authority.session(sessionID) else {
            if request.method == .GET, !path.starts(with: ["events"]) { return redirect("/login") }
            return refuse(request, "no-session", .unauthorized, "Log in first.")
        }
        var context = ConsolePages.Context(node: administration.configuration.node.description, csrf: session.csrf)
        context.notice = request.query["notice"].flatMap { Self.notices[$0] }
        if request.method == .POST {
            let form = Self.form(request.body)
            guard Self.sameOrigin(request, host: host), let csrf = form["csrf"], Self.constantTimeEqual(csrf, session.csrf) else {
                return refuse(request, "bad-csrf", .forbidden, "This action did not come from a page of this console (missing or wrong CSRF token).")
            }
            return await act(path, form, sessionID: sessionID, context)
        }
        do {
            switch path {
            case []: return page(ConsolePages.overview(try await administration.status(), context))
            case ["agreements"]:
                var filter = ConsolePages.ListFilter()
                filter.party = request.query["party"] ?? ""
                filter.status = request.query["status"] ?? ""
                filter.category = request.query["category"] ?? ""
                filter.search = request.query["q"] ?? ""
                filter.page = request.query["page"].flatMap { Int($0) } ?? 1
                var query: [String: String] = [:]
                if !filter.party.isEmpty { query["party"] = filter.party }
                if !filter.status.isEmpty { query["status"] = filter.status }
                let items = try await administration.list(query).filter(filter.matches)
                return page(ConsolePages.agreements(items, filter, context))
            case let path where path.count == 2 && path[0] == "agreements": return try await agreementPage(path[1], context)
            case ["conflicts"]: return page(ConsolePages.conflicts(try await administration.conflicts(nil), context))
            case ["events"]: return EventStreamResponse.response(request, hub: events, origin: .console)
            default: return page(ConsolePages.problem("Not found", "There is no such page.", context), status: .notFound)
            }
        } catch let failure as AdminFailure {
            return page(ConsolePages.problem("Not available", failure.body.message, context), status: failure.status)
        } catch {
            return page(ConsolePages.problem("Not available", "\(error)", context), status: .serviceUnavailable)
        }
    }

    /// Messages an action's redirect may ask for: a fixed set, so a link cannot make the
    /// console say anything else.
    private static let notices = [
        "approved": "Approved.", "noted": "Note added.", "fulfilled": "Commitment marked fulfilled.", "waived": "Commitment waived.",
    ]

    private func agreementPage(_ id: String, _ context: ConsolePages.Context, status: HTTPResponseStatus = .ok) async throws -> AdminResponse {
        let agreement = try administration.agreementID(id)
        let view = try await administration.show(agreement)
        let history = try await administration.store.history(of: agreement).map(Views.history)
        let organisation = administration.configuration.node.organisation.rawValue
        return page(ConsolePages.agreement(view, history: history, organisation: organisation, context), status: status)
    }

    // MARK: - Actions

    private func act(_ path: [String], _ form: [String: String], sessionID: String, _ context: ConsolePages.Context) async -> AdminResponse {
        if path == ["logout"] {
            authority.logOut(sessionID)
            var response = redirect("/login")
            response.headers.append(("Set-Cookie", "\(cookie)=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"))
            return response
        }
        guard path.count >= 3, path[0] == "agreements" else {
            return page(ConsolePages.problem("Not found", "There is no such action.", context), status: .notFound)
        }
        let id = path[1]
        do {
            let agreement = try administration.agreementID(id)
            let notice: String
            switch Array(path.dropFirst(2)) {
            case ["approve"]:
                guard let termsHash = form["termsHash"], !termsHash.isEmpty else { throw AdminFailure.badRequest("the approval names no terms") }
                _ = try await administration.approve(agreement, ApproveRequest(termsHash: termsHash))
                notice = "approved"
            case ["notes"]:
                let body = try AdminAPI.encoder().encode(NoteRequest(text: form["text"] ?? ""))
                _ = try await administration.author(agreement, try AdminRequestDecoding.edits(for: "notes", body: Array(body)).edits)
                notice = "noted"
            case let action where action.count == 3 && action[0] == "commitments" && ["fulfil", "waive"].contains(action[2]):
                let (commitment, action) = (action[1], action[2])
                let request = CommitmentRequest(action: action == "fulfil" ? .fulfil : .waive, commitment: commitment)
                let body = try AdminAPI.encoder().encode(request)
                _ = try await administration.author(agreement, try AdminRequestDecoding.edits(for: "commitments", body: Array(body)).edits)
                notice = action == "fulfil" ? "fulfilled" : "waived"
            default:
                return page(ConsolePages.problem("Not found", "There is no such action.", context), status: .notFound)
            }
            return redirect("/agreements/\(id)?notice=\(notice)")
        } catch {
            // The page again, as it is now, with why the action was refused.
            var context = context
            let status: HTTPResponseStatus
            switch error {
            case let failure as AdminFailure:
                status = failure.status
                context.error = failure.body.code == "terms-changed"
                    ? "Not approved: the terms changed since this page showed them. Read them again below before you approve."
                    : failure.body.message
            case let rejection as ChangeRejection:
                status = .unprocessableEntity
                context.error = "Refused: \(rejection.message)"
            default:
                status = .unprocessableEntity
                context.error = "\(error)"
            }
            do {
                return try await agreementPage(id, context, status: status)
            } catch {
                return page(ConsolePages.problem("Not available", context.error ?? "\(error)", context), status: status)
            }
        }
    }

    private func logIn(_ request: AdminRequest, host: String) -> AdminResponse {
        guard Self.sameOrigin(request, host: host) else {
            return refuse(request, "bad-origin", .forbidden, "A login must come from this console's own page.")
        }
        let source = request.remoteAddress ?? "unknown"
        switch authority.logIn(token: Self.form(request.body)["token"] ?? "", source: source) {
        case .opened(let sessionID):
            var response = redirect("/")
            response.headers.append(("Set-Cookie", "\(cookie)=\(sessionID); HttpOnly; SameSite=Strict; Path=/"))
            return response
        case .refused:
            refusals.refused("console login refused", reason: "login-failed", level: .notice, metadata: ["source": "\(source)"])
            administration.counters.consoleRefused("login-failed")
            return page(ConsolePages.login(error: "That token is not valid (tokens are single-use and expire)."), status: .unauthorized)
        case .throttled(let retryAfter):
            refusals.refused("console login refused", reason: "login-throttled", metadata: ["source": "\(source)"])
            administration.counters.consoleRefused("login-throttled")
            var response = page(ConsolePages.login(error: "Too many failed logins; try again later."), status: .tooManyRequests)
            response.headers.append(("Retry-After", "\(max(1, retryAfter.components.seconds))"))
            return response
        }
    }

    // MARK: - Helpers

    private func refuse(_ request: AdminRequest, _ reason: String, _ status: HTTPResponseStatus, _ message: String) -> AdminResponse {
        refusals.refused(
            "console request refused", reason: reason, level: .notice,
            metadata: ["path": "/\(request.path.joined(separator: "/"))", "source": "\(request.remoteAddress ?? "unknown")"]
        )
        administration.counters.consoleRefused(reason)
        return page(ConsolePages.problem(status.reasonPhrase, message, nil), status: status)
    }

    private func page(_ html: HTML, status: HTTPResponseStatus = .ok) -> AdminResponse {
        AdminResponse(status: status, contentType: "text/html; charset=utf-8", body: Array(html.description.utf8))
    }

    private func asset(_ text: String, _ type: String) -> AdminResponse { AdminResponse(contentType: type, body: Array(text.utf8)) }

    private func redirect(_ location: String) -> AdminResponse {
        var response = AdminResponse(status: .seeOther, contentType: "text/plain; charset=utf-8", body: [])
        response.headers.append(("Location", location))
        return response
    }

    /// A POST's `Origin` (sent by every current browser) must be this console; a request with
    /// none is judged by its CSRF token alone.
    static func sameOrigin(_ request: AdminRequest, host: String) -> Bool {
        guard let origin = request.headers.first(name: "Origin") else { return true }
        return origin.lowercased() == "http://\(host.lowercased())"
    }

    static func cookies(_ request: AdminRequest) -> [String: String] {
        var cookies: [String: String] = [:]
        for header in request.headers["Cookie"] {
            for pair in header.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                cookies[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return cookies
    }

    static func form(_ body: [UInt8]) -> [String: String] { HTTPExchange.formFields(String(decoding: body, as: UTF8.self)) }

    static func constantTimeEqual(_ lhs: String, _ rhs: String) -> Bool {
        let (a, b) = (Array(lhs.utf8), Array(rhs.utf8))
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
