import AccordRefusals
import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordPeople
import AccordStore
import AccordSync
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The web console's routes. Who may make a request is decided by middleware, in this order: the
/// security headers go on every answer (`ConsoleHeadersMiddleware`), a request for another `Host`
/// is refused (`ConsoleHostMiddleware`), and every page but the login and the assets needs a
/// session (`ConsoleSessionMiddleware`), every action also its CSRF token and this origin
/// (`ConsoleFormMiddleware`). Pages come from `ConsolePages`, data and actions from
/// `NodeAdministration` — the operations the admin API calls — so the console and `accordctl`
/// never disagree.
struct ConsoleRoutes {
    /// Form bodies are small: a note is at most 4 KiB.
    static let maximumBodyBytes = 64 * 1024

    let administration: NodeAdministration
    let authority: ConsoleAuthority
    let events: EventHub
    let gate: ConsoleGate
    /// The organisation's identity provider, if `[console.oidc]` names one.
    let provider: IdentityProvider?
    let pendingSignIns = PendingSignIns()
    /// Nil where the console's URL has no host name.
    let passkeys: ConsolePasskeys?
    let logger: Logger

    init(
        administration: NodeAdministration, authority: ConsoleAuthority, events: EventHub, address: ListenAddress, url: String?,
        provider: IdentityProvider?, refusals: RefusalLog, logger: Logger
    ) {
        self.administration = administration
        self.authority = authority
        self.events = events
        self.provider = provider
        self.logger = logger
        passkeys = ConsolePasskeys(
            url: url ?? address.defaultURL, required: administration.configuration.requirePasskey, store: administration.store, refusals: refusals,
            counters: administration.counters, clock: administration.clock
        )
        var hosts = address.hostHeaders
        if let url, let components = URLComponents(string: url), let host = components.host {
            hosts.insert((components.port.map { "\(host):\($0)" } ?? host).lowercased())
        }
        gate = ConsoleGate(
            hosts: hosts, cookie: "accord_session_\(address.port)", authority: authority, counters: administration.counters, refusals: refusals
        )
    }

    func router() -> Router<AccordRequestContext> {
        let router = Router(context: AccordRequestContext.self)
        router.add(middleware: ConsoleHeadersMiddleware())
        router.add(middleware: ConsoleHostMiddleware(gate: gate))
        router.get("static/console.css") { _, _ in Response.text(ConsoleAssets.css, contentType: "text/css; charset=utf-8") }
        router.get("static/console.js") { _, _ in Response.text(ConsoleAssets.javascript, contentType: "text/javascript; charset=utf-8") }
        router.get("login") { _, _ in Self.page(ConsolePages.login(error: nil, provider: provider != nil)) }
        router.post("login") { request, context in try await logIn(request, context) }
        if provider != nil {
            router.get("login/start") { request, context in try await startSignIn(request, context) }
            router.get("login/callback") { request, context in try await finishSignIn(request, context) }
        }

        let signedIn = router.group().add(middleware: ConsoleSessionMiddleware(gate: gate)).add(middleware: ConsoleFormMiddleware(gate: gate))
        signedIn.post("logout") { _, context in
            if let session = context.consoleSession { authority.logOut(session.id) }
            var response = Self.redirect("/login")
            response.headers[.setCookie] = "\(gate.cookie)=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
            return response
        }

        let reading = signedIn.group().add(middleware: ConsoleRoleMiddleware(role: .viewer, gate: gate))
        reading.get { request, context in try await show(request, context) { context in ConsolePages.overview(try await overview(), context) } }
        reading.get("node") { request, context in
            try await show(request, context) { context in ConsolePages.node(try await administration.status(), context) }
        }
        reading.get("agreements") { request, context in
            try await show(request, context) { context in
                let filter = ConsolePages.ListFilter(request.queryFields)
                let (us, today) = (organisation, administration.today.description)
                let items = try await administration.list(filter.listQuery).filter { filter.matches($0, us: us, today: today) }
                return ConsolePages.agreements(filter.sort.sorted(items), filter, organisation: us, context)
            }
        }
        reading.get("agreements/:agreement") { request, context in
            try await show(request, context) { pageContext in try await agreementPage(context.pathParameter("agreement"), pageContext) }
        }
        reading.get("conflicts") { request, context in
            try await show(request, context) { context in ConsolePages.conflicts(try await administration.conflicts(nil), context) }
        }
        reading.get("events") { request, _ in EventStreamResponse.response(request, hub: events, origin: .console) }
        reading.get("passkeys") { request, context in try await show(request, context) { page in ConsolePages.passkeys(page.passkeys, page) } }
        reading.post("passkeys") { request, context in
            try await actOnPasskeys(request, context) { form, session in
                _ = try await passkeys?.register(form, csrf: session.csrf, person: session.person, source: context.remoteAddress ?? "unknown")
                return "passkey-registered"
            }
        }
        reading.post("passkeys/remove") { request, context in
            try await actOnPasskeys(request, context) { form, session in
                guard let id = form["credential"].flatMap({ Base64URL.decode($0) }), try await administration.store.removePasskey(id, of: session.person.subject)
                else {
                    throw AdminFailure(.notFound, "unknown-passkey", "you have no such passkey")
                }
                return "passkey-removed"
            }
        }

        let approving = signedIn.group().add(middleware: ConsoleRoleMiddleware(role: .approver, gate: gate))
        approving.post("agreements/:agreement/approve") { request, context in
            try await act(request, context) { id, form in
                guard let termsHash = form["termsHash"], !termsHash.isEmpty else { throw AdminFailure.badRequest("the approval names no terms") }
                let actor = actor(context)
                var passkey: PasskeyEvidence?
                if let session = context.consoleSession, let passkeys {
                    passkey = try await passkeys.evidence(
                        form, person: session.person, actor: actor, agreement: id, termsHash: termsHash, source: context.remoteAddress ?? "unknown"
                    )
                }
                _ = try await administration.approve(id, expected: termsHash, actor: actor, passkey: passkey)
                return "approved"
            }
        }
        approving.get("agreements/:agreement/terminate") { request, context in
            try await show(request, context) { page in
                let view = try await administration.show(try administration.agreementID(try context.pathParameter("agreement")))
                return ConsolePages.confirmTermination(view, organisation: organisation, page)
            }
        }
        approving.post("agreements/:agreement/terminate") { request, context in
            try await act(request, context) { id, form in
                let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                guard !reason.isEmpty else { throw AdminFailure.badRequest("say why: every party sees the reason") }
                _ = try await administration.author(id, AdminRequestDecoding.Decoded(edits: [], intent: .terminate(reason: reason)), actor: actor(context))
                return "terminated"
            }
        }
        let editing = signedIn.group().add(middleware: ConsoleRoleMiddleware(role: .editor, gate: gate))
        addEditingRoutes(editing)
        return router
    }

    // MARK: - Pages and actions

    /// Who makes a change in this request's session, as the organisation shares it.
    func actor(_ context: AccordRequestContext) -> ActingPerson? {
        context.consoleSession.flatMap { administration.naming.actor(for: $0.person) }
    }

    /// Messages an action's redirect may ask for: a fixed set, so a link cannot make the
    /// console say anything else.
    private static let notices = [
        "approved": "Approved.", "noted": "Note added.", "claimed": "Fulfilment claimed.", "confirmed": "Fulfilment confirmed.",
        "disputed": "Claim disputed: the commitment is open again.", "waived": "Commitment waived.", "voided": "The draft is void.",
        "removal-consented": "Removal recorded: the party is removed once every other party has agreed.",
        "passkey-registered": "Passkey registered.", "passkey-removed": "Passkey removed.", "terminated": "Termination recorded.",
        "saved": "Saved.", "party-added": "Party added.", "commitment-added": "Commitment added.", "commitment-saved": "Commitment saved.",
        "commitment-removed": "Commitment removed.", "resolved": "Conflict resolved.", "created": "Agreement created.",
    ]

    func context(_ request: Request, _ context: AccordRequestContext) async throws -> ConsolePages.Context {
        var page = ConsolePages.Context(node: administration.configuration.node.description, csrf: context.consoleSession?.csrf ?? "")
        if let person = context.consoleSession?.person { page.person = person }
        page.notice = request.queryFields["notice"].flatMap { Self.notices[$0] }
        page.passkeys = try await passkeys?.controls(for: page.person)
        return page
    }

    /// A page, or the problem that kept it from being shown.
    func show(
        _ request: Request, _ context: AccordRequestContext, _ render: (ConsolePages.Context) async throws -> HTML
    ) async throws -> Response {
        let page = try await self.context(request, context)
        do {
            return Self.page(try await render(page))
        } catch let failure as AdminFailure {
            return Self.page(ConsolePages.problem("Not available", failure.body.message, page), status: failure.status)
        } catch {
            return Self.page(ConsolePages.problem("Not available", "\(error)", page), status: .serviceUnavailable)
        }
    }

    private func agreementPage(_ id: String, _ context: ConsolePages.Context) async throws -> HTML {
        ConsolePages.agreement(try await agreementPageData(try administration.agreementID(id)), context)
    }

    /// Runs an action on the path's agreement with the request's form; then the agreement again
    /// with a notice — or, refused, the page as it is now with why.
    func act(
        _ request: Request, _ context: AccordRequestContext, _ action: (AgreementID, [String: String]) async throws -> String
    ) async throws -> Response {
        let id = try context.pathParameter("agreement")
        let form = FormFields.decode(try await request.body(upTo: Self.maximumBodyBytes))
        var page = try await self.context(request, context)
        do {
            let notice = try await action(try administration.agreementID(id), form)
            return Self.redirect("/agreements/\(id)?notice=\(notice)")
        } catch {
            let (status, message) = Self.refusal(error)
            page.error = message
            page.errorField = form["form"]
            do {
                return Self.page(try await agreementPage(id, page), status: status)
            } catch {
                return Self.page(ConsolePages.problem("Not available", page.error ?? "\(error)", page), status: status)
            }
        }
    }

    /// Runs an action of the passkeys page; then the page again with a notice, or with why not.
    private func actOnPasskeys(
        _ request: Request, _ context: AccordRequestContext, _ action: ([String: String], ConsoleSessionIdentity) async throws -> String
    ) async throws -> Response {
        let form = FormFields.decode(try await request.body(upTo: Self.maximumBodyBytes))
        var page = try await self.context(request, context)
        guard let session = context.consoleSession, passkeys != nil else { return Self.page(ConsolePages.passkeys(nil, page), status: .notFound) }
        do {
            return Self.redirect("/passkeys?notice=\(try await action(form, session))")
        } catch let failure as AdminFailure {
            page.error = failure.body.message
            return Self.page(ConsolePages.passkeys(page.passkeys, page), status: failure.status)
        }
    }

    private func logIn(_ request: Request, _ context: AccordRequestContext) async throws -> Response {
        guard gate.sameOrigin(request) else {
            return gate.refuse(request, context, "bad-origin", .forbidden, "A login must come from this console's own page.")
        }
        let source = context.remoteAddress ?? "unknown"
        let form = FormFields.decode(try await request.body(upTo: Self.maximumBodyBytes))
        switch authority.logIn(token: form["token"] ?? "", source: source) {
        case .opened(let sessionID):
            logger.notice("console sign-in with a one-time token: break-glass, as admin", metadata: ["source": "\(source)"])
            var response = Self.redirect("/")
            response.headers[.setCookie] = "\(gate.cookie)=\(sessionID); HttpOnly; SameSite=Strict; Path=/"
            return response
        case .refused:
            gate.refusals.refused("console login refused", reason: "login-failed", level: .notice, metadata: ["source": "\(source)"])
            administration.counters.consoleRefused("login-failed")
            return Self.page(ConsolePages.login(error: "That token is not valid (tokens are single-use and expire).", provider: provider != nil), status: .unauthorized)
        case .throttled(let retryAfter):
            gate.refusals.refused("console login refused", reason: "login-throttled", metadata: ["source": "\(source)"])
            administration.counters.consoleRefused("login-throttled")
            var response = Self.page(ConsolePages.login(error: "Too many failed logins; try again later.", provider: provider != nil), status: .tooManyRequests)
            response.headers[.retryAfter] = "\(max(1, retryAfter.components.seconds))"
            return response
        }
    }

    static func page(_ html: HTML, status: HTTPResponse.Status = .ok) -> Response {
        Response.text(html.description, contentType: "text/html; charset=utf-8", status: status)
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .contentType: "text/plain; charset=utf-8"], body: ResponseBody())
    }
}

extension ConsolePages.ListFilter {
    /// The filter a list page's query asks for.
    init(_ query: [String: String]) {
        self.init()
        party = query["party"] ?? ""
        status = query["status"] ?? ""
        category = query["category"] ?? ""
        search = query["q"] ?? ""
        view = query["view"].flatMap(ConsolePages.View.init(rawValue:))
        sort = query["sort"].flatMap(ConsolePages.Sort.init(rawValue:)) ?? view?.defaultSort ?? .title
        page = query["page"].flatMap { Int($0) } ?? 1
    }

    /// What the store filters; the rest (category, search) the page does.
    var listQuery: [String: String] {
        var query: [String: String] = [:]
        if !party.isEmpty { query["party"] = party }
        if !status.isEmpty { query["status"] = status }
        return query
    }
}
