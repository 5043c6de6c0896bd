import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore
import Foundation
import HTTPTypes
import Hummingbird

/// The admin API's routes (docs/admin-api.md; every one described in docs/openapi.json, which
/// `GET /v1/openapi.json` serves): each reads its path, query and body, calls an operation of
/// `NodeAdministration` with domain values, and writes the answer as JSON. Nothing else here
/// decides anything.
struct AdminRoutes {
    let administration: NodeAdministration

    /// Request bodies larger than this are refused (413) before they are read to the end.
    static let maximumBodyBytes = AdminAPI.maximumRequestBytes

    /// docs/openapi.json, compiled into the daemon (Package.swift embeds it).
    static let openAPIDocument = String(decoding: PackageResources.openapi_json, as: UTF8.self)

    func router() -> Router<AccordRequestContext> {
        let router = Router(context: AccordRequestContext.self)
        router.add(middleware: AdminErrorMiddleware())
        let administration = self.administration
        MetricsRoutes(administration: administration).add(to: router)
        let v1 = router.group("v1")
        v1.get("openapi.json") { _, _ in Response.text(Self.openAPIDocument, contentType: "application/json") }
        v1.get("status") { _, _ in Response.json(try await administration.status()) }
        v1.get("due") { request, _ in Response.json(try await administration.deadlines(try DueQuery(request.queryFields, administration))) }
        v1.get("events") { request, _ in EventStreamResponse.response(request, hub: administration.events) }
        v1.get("peers") { _, _ in Response.json(try await administration.peerStatuses()) }
        v1.delete("peers/:node") { _, context in Response.json(try await administration.forget(try context.pathParameter("node"))) }
        v1.get("conflicts") { request, _ in
            let agreement = try request.queryFields["agreement"].map { text throws(AdminFailure) in try administration.agreementID(text) }
            return Response.json(try await administration.conflicts(agreement))
        }
        v1.post("sync") { request, _ in
            Response.json(try await administration.synchronise(try await Self.decode(request, emptyAs: SyncRequest(peer: nil))))
        }
        v1.post("reload") { _, _ in
            do {
                return Response.json(try await administration.reloader.reload(trigger: "admin-api"))
            } catch let refusal as ReloadRefusal {
                throw AdminFailure(.unprocessableContent, "reload-refused", refusal.message)
            }
        }
        v1.post("console/tokens") { request, _ in
            Response.json(try administration.consoleToken(try await Self.decode(request, emptyAs: ConsoleTokenRequest())), status: .created)
        }
        v1.get("console/sessions") { _, _ in Response.json(try administration.consoleSessions()) }
        v1.delete("console/sessions/:handle") { _, context in
            Response.json(try administration.endConsoleSession(try context.pathParameter("handle")))
        }
        v1.post("backup") { request, _ in Response.json(try await administration.backup(try await Self.decode(request))) }
        agreementRoutes(v1.group("agreements"))
        return router
    }

    private func agreementRoutes(_ agreements: RouterGroup<AccordRequestContext>) {
        let administration = self.administration
        agreements.get { request, _ in Response.json(try await administration.list(request.queryFields)) }
        agreements.post { request, context in
            let decoded = try AdminRequestDecoding.edits(for: AdminRequestDecoding.create, body: try await request.body(upTo: Self.maximumBodyBytes))
            let stored = try await administration.create(decoded.edits, allowUnknownParties: decoded.allowUnknownParties, actor: await Self.actor(context))
            return Response.json(Self.created(stored), status: .created)
        }
        agreements.post("bulk") { request, context in
            let results = try await administration.createMany(
                try AdminRequestDecoding.bulkCreate(try await request.body(upTo: Self.maximumBodyBytes)), actor: await Self.actor(context)
            )
            return Response.json(BulkCreateResponse(results: results.map { result in
                switch result {
                case .success(let stored): BulkCreateResult(created: Self.created(stored), error: nil)
                case .failure(let failure): BulkCreateResult(created: nil, error: failure.body)
                }
            }))
        }
        agreements.post("import") { request, _ in Response.json(try await administration.importAgreements(try await Self.decode(request))) }
        agreements.get("export") { request, _ in Response.json(try await administration.exportAgreements(request.queryFields)) }
        agreements.get(":agreement") { _, context in Response.json(try await administration.show(try await Self.agreement(context, administration))) }
        agreements.get(":agreement/history") { _, context in
            let agreement = try await administration.existing(try await Self.agreement(context, administration))
            return Response.json(try await administration.store.history(of: agreement).map(Views.history))
        }
        agreements.get(":agreement/diff") { request, context in
            let id = try await Self.agreement(context, administration)
            return Response.json(try await administration.difference(id, try NodeAdministration.DifferenceQuery(request.queryFields)))
        }
        agreements.get(":agreement/evidence") { _, context in
            Response.json(try await administration.evidence(try await Self.agreement(context, administration)))
        }
        agreements.post(":agreement/approve") { request, context in
            let id = try await Self.agreement(context, administration)
            let approval = try await Self.decode(request, emptyAs: ApproveRequest(termsHash: nil))
            return Response.json(Self.receipt(id, try await administration.approve(id, expected: approval.termsHash, actor: await Self.actor(context))))
        }
        for action in AdminRequestDecoding.editActions.sorted() {
            agreements.post(":agreement/\(action)") { request, context in
                let id = try await Self.agreement(context, administration)
                let decoded = try AdminRequestDecoding.edits(for: action, body: try await request.body(upTo: Self.maximumBodyBytes))
                let stored = try await administration.author(id, decoded, actor: await Self.actor(context))
                var receipt = Self.receipt(id, stored)
                receipt.commitment = decoded.commitment?.description
                return Response.json(receipt)
            }
        }
    }

    // MARK: - The edge between wire and domain

    /// Who is making a change through the admin socket: the local user of the connecting
    /// process, as the kernel tells it (`SO_PEERCRED`), never as the request claims.
    private static func actor(_ context: AccordRequestContext) async -> ActingPerson? {
        await context.channel.peerUserID().flatMap(ActorNaming.localUser)
    }

    /// The agreement the path's `:agreement` names: an id or a reference it was imported under.
    private static func agreement(_ context: AccordRequestContext, _ administration: NodeAdministration) async throws -> AgreementID {
        try await administration.agreement(named: try context.pathParameter("agreement"))
    }

    /// A JSON body, or `empty` for a request without one.
    static func decode<Body: Decodable>(_ request: Request, emptyAs empty: Body? = nil) async throws -> Body {
        let bytes = try await request.body(upTo: maximumBodyBytes)
        if bytes.isEmpty, let empty { return empty }
        return try EditRequests.decode(bytes)
    }

    static func created(_ stored: StoredChange) -> CreatedAgreement {
        CreatedAgreement(id: stored.agreement.description, change: stored.change.id.hex, sequence: stored.sequence)
    }

    static func receipt(_ id: AgreementID, _ stored: StoredChange) -> ChangeReceipt {
        ChangeReceipt(agreement: id.description, change: stored.change.id.hex, sequence: stored.sequence)
    }
}

/// `GET /v1/due`'s query as the operation takes it.
struct DueQuery {
    var days = 30
    var overdueOnly = false
    var owedBy: OrganisationID?

    init(_ query: [String: String], _ administration: NodeAdministration) throws(AdminFailure) {
        if let text = query["within"] {
            guard let days = DeadlinesResponse.days(within: text) else {
                throw AdminFailure.badRequest("within: \"\(text)\" is not a number of days (0–3650)")
            }
            self.days = days
        }
        overdueOnly = query["overdue"] == "true"
        owedBy = try query["owedBy"].map { name throws(AdminFailure) in
            name == "ours" ? administration.configuration.node.organisation : try EditRequests.organisation(name, "owedBy")
        }
    }
}

/// Every failure below a route becomes the admin API's JSON error (docs/admin-api.md):
/// `AdminFailure` as it says, a rule's refusal as 422 with its code, the store's failure as 503,
/// no route as 404, anything else as 500.
struct AdminErrorMiddleware: RouterMiddleware {
    typealias Context = AccordRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return Self.failure(error, request: request).response
        }
    }

    static func failure(_ error: any Error, request: Request) -> AdminFailure {
        switch error {
        case let failure as AdminFailure:
            failure
        case let rejection as ChangeRejection:
            AdminFailure(.unprocessableContent, rejection.code.description, "the change was refused: \(rejection.message)")
        case let error as StoreError:
            AdminFailure(.serviceUnavailable, "store-\(error.code)", "the node's store failed: \(error)")
        case let error as HTTPError where error.status == .notFound || error.status == .methodNotAllowed:
            AdminFailure.notFound("no endpoint \(request.method) \(request.uri.path); see docs/admin-api.md")
        case let error as HTTPError:
            AdminFailure(error.status, "bad-request", error.body ?? "\(error.status)")
        default:
            AdminFailure(.internalServerError, "internal", "\(error)")
        }
    }
}
