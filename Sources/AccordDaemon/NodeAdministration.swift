import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore
import AccordSync
import Foundation
import NIOHTTP1

/// What the admin API can do with one node: read its agreements and sync state, author changes in
/// its name, start reconciliation. `AdminServer` carries the bytes; this type answers requests.
public final class NodeAdministration: Sendable {
    public static let version = "0.1.0"
    let live: LiveConfiguration
    let store: NodeStore
    let sync: SyncNode
    let reloader: ConfigurationReloader
    let clock: @Sendable () -> UInt64
    let startedAt: UInt64
    let counters = AdminCounters()
    /// What happened on the node lately, for `GET /v1/events`.
    let events: EventHub
    /// Who may use the web console (nil when `[console]` is not configured).
    let console: ConsoleAuthority?

    init(
        live: LiveConfiguration, store: NodeStore, sync: SyncNode, reloader: ConfigurationReloader, events: EventHub,
        console: ConsoleAuthority?, clock: @escaping @Sendable () -> UInt64
    ) {
        self.events = events
        self.console = console
        self.live = live
        self.store = store
        self.sync = sync
        self.reloader = reloader
        self.clock = clock
        startedAt = clock()
    }

    /// The configuration as last loaded (at start or by a reload).
    var configuration: DaemonConfiguration { live.current.configuration }
    /// Signs in this node's name with the key of its current certificate.
    var signer: ChangeSigner { live.current.credentials.signer }

    private var today: CalendarDate { CalendarDate(unixMillis: clock()) }

    /// Answers one request; never throws: every failure becomes a JSON error with a status.
    public func handle(_ request: AdminRequest) async -> AdminResponse {
        do {
            return try await route(request)
        } catch let failure as AdminFailure {
            return failure.response
        } catch let rejection as ChangeRejection {
            return AdminFailure(.unprocessableEntity, rejection.code.description, "the change was refused: \(rejection.message)").response
        } catch let error as StoreError {
            return AdminFailure(.serviceUnavailable, "store-\(error.code)", "the node's store failed: \(error)").response
        } catch {
            return AdminFailure(.internalServerError, "internal", "\(error)").response
        }
    }

    private func route(_ request: AdminRequest) async throws -> AdminResponse {
        let path = request.path
        // /metrics, or /v1/RESOURCE[/ID[/ACTION]]
        let versioned = path.first == "v1" && (2...4).contains(path.count)
        let resource = path == ["metrics"] ? "metrics" : versioned ? path[1] : ""
        let id = versioned && path.count > 2 ? path[2] : nil
        let action = versioned && path.count > 3 ? path[3] : nil
        switch (request.method, resource, id, action) {
        case (.GET, "metrics", nil, nil):
            return AdminResponse(contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(try await metrics().utf8))
        case (.GET, "status", nil, nil): return try json(try await status())
        case (.GET, "due", nil, nil):
            let within = try request.query["within"].map { text throws(AdminFailure) in
                guard let days = DeadlinesResponse.days(within: text) else {
                    throw AdminFailure.badRequest("within: \"\(text)\" is not a number of days (0–3650)")
                }
                return days
            } ?? 30
            let owedBy = try request.query["owedBy"].map { name throws(AdminFailure) in
                name == "ours" ? configuration.node.organisation : try EditRequests.organisation(name, "owedBy")
            }
            return try json(try await deadlines(within: within, overdueOnly: request.query["overdue"] == "true", owedBy: owedBy))
        case (.GET, "events", nil, nil): return EventStreamResponse.response(request, hub: events)
        case (.GET, "peers", nil, nil): return try json(try await peerStatuses())
        case (.DELETE, "peers", let node?, nil): return try json(try await forget(node))
        case (.GET, "agreements", nil, nil): return try json(try await list(request.query))
        case (.POST, "agreements", nil, nil):
            let decoded = try AdminRequestDecoding.edits(for: AdminRequestDecoding.create, body: request.body)
            return try json(try await create(decoded.edits, allowUnknownParties: decoded.allowUnknownParties), status: .created)
        case (.POST, "agreements", "bulk", nil):
            return try json(try await createMany(try AdminRequestDecoding.bulkCreate(request.body)))
        case (.POST, "agreements", "import", nil): return try json(try await importAgreements(try body(request)))
        case (.GET, "agreements", "export", nil): return try json(try await exportAgreements(request.query))
        case (.GET, "agreements", let id?, nil): return try json(try await show(try await agreement(named: id)))
        case (.GET, "agreements", let id?, "history"):
            let agreement = try await existing(try await agreement(named: id))
            return try json(try await store.history(of: agreement).map(Views.history))
        case (.GET, "agreements", let id?, "evidence"): return try json(try await evidence(try await agreement(named: id)))
        case (.POST, "agreements", let id?, "approve"):
            return try json(try await approve(try await agreement(named: id), try body(request, emptyAs: ApproveRequest(termsHash: nil))))
        case (.POST, "agreements", let id?, let action?) where AdminRequestDecoding.editActions.contains(action):
            let decoded = try AdminRequestDecoding.edits(for: action, body: request.body)
            var receipt = try await author(try await agreement(named: id), decoded.edits, allowUnknownParties: decoded.allowUnknownParties)
            receipt.commitment = decoded.commitment?.description
            return try json(receipt)
        case (.GET, "conflicts", nil, nil):
            return try json(try await conflicts(try request.query["agreement"].map(agreementID)))
        case (.POST, "sync", nil, nil):
            return try json(try await synchronise(try body(request, emptyAs: SyncRequest(peer: nil))))
        case (.POST, "reload", nil, nil):
            let result: ReloadResult
            do {
                result = try await reloader.reload(trigger: "admin-api")
            } catch {
                throw AdminFailure(.unprocessableEntity, "reload-refused", error.message)
            }
            return try json(result)
        case (.POST, "console", "tokens", nil):
            return try json(try consoleToken(try body(request, emptyAs: ConsoleTokenRequest())), status: .created)
        case (.POST, "backup", nil, nil):
            return try json(try await backup(try body(request)))
        default:
            throw AdminFailure.notFound("no endpoint \(request.method) /\(path.joined(separator: "/")); see docs/admin-api.md")
        }
    }

    // MARK: - Reads

    /// Agreements, each with the reference it was imported under.
    func list(_ query: [String: String]) async throws -> [AgreementListItem] {
        let references = try await store.importReferences()
        return try await summaries(query).map { summary in
            var item = Views.listItem(summary)
            item.reference = references[summary.id]
            return item
        }
    }

    private func summaries(_ query: [String: String]) async throws -> [AgreementSummary] {
        let party = try query["party"].map { name throws(AdminFailure) in try EditRequests.organisation(name, "party") }
        let status = try query["status"].map { name throws(AdminFailure) in
            guard let status = AgreementStatus(rawValue: name) else {
                throw AdminFailure.badRequest("status: \"\(name)\" is not one of \(AgreementStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return status
        }
        return try await store.agreements(party: party, status: status, today: today)
    }

    func show(_ id: AgreementID) async throws -> AgreementView {
        guard let detail = try await store.agreement(id) else { throw Self.unknown(id) }
        let latest = detail.lastSequence
        // The nodes met (stored or in session) and how far each acknowledged: not the whole peer
        // status, whose backlog counts scan the log and would make every read of one agreement
        // cost as much as the log is long.
        let acknowledged = Dictionary(try await store.peers().map { ($0.node.description, $0.acknowledgedSequence) }, uniquingKeysWith: max)
        let live = Dictionary(sync.sessions.map { ($0.node.description, $0.acknowledgedThrough) }, uniquingKeysWith: max)
        let met = Set(acknowledged.keys).union(live.keys).compactMap(NodeID.init).sorted()
        var delivery: [DeliveryView] = []
        for party in detail.agreement.parties where party != configuration.node.organisation {
            let nodes = met.filter { $0.organisation == party }.map(\.description)
            if nodes.isEmpty { delivery.append(DeliveryView(organisation: party.rawValue, node: nil, acknowledged: false)) }
            for node in nodes {
                let through = max(acknowledged[node] ?? 0, live[node] ?? 0)
                delivery.append(DeliveryView(organisation: party.rawValue, node: node, acknowledged: through >= latest))
            }
        }
        var view = Views.agreement(detail, today: today, delivery: delivery)
        view.reference = try await store.importReference(of: id)
        return view
    }

    func conflicts(_ agreement: AgreementID?) async throws -> [AgreementConflicts] {
        if let agreement { _ = try await existing(agreement) }
        let conflicts = try await store.conflicts(in: agreement)
        guard !conflicts.isEmpty else { return [] }
        let titles = Dictionary(try await store.agreements(today: today).map { ($0.id, $0.title) }, uniquingKeysWith: { first, _ in first })
        return conflicts.sorted { $0.key < $1.key }.map { id, conflicts in
            AgreementConflicts(agreement: id.description, title: titles[id] ?? nil, conflicts: Views.conflicts(conflicts))
        }
    }

    // MARK: - Changes

    private func create(_ edits: [Edit], allowUnknownParties: Bool) async throws -> CreatedAgreement {
        try authoringChecks(allowUnknownParties: allowUnknownParties).check(edits, on: nil)
        let stored = try await store.author(nil, edits, signer: signer, nowMillis: clock())
        counters.authored()
        return CreatedAgreement(id: stored.agreement.description, change: stored.change.id.hex, sequence: stored.sequence)
    }

    /// Every request was decoded and checked before any is authored; each is then judged by the
    /// rules on its own, in one transaction.
    private func createMany(_ requests: [AdminRequestDecoding.Decoded]) async throws -> BulkCreateResponse {
        let known = knownOrganisations()
        let checked = requests.map { request in
            Result { () throws(AdminFailure) in
                try AuthoringChecks(knownOrganisations: known, allowUnknownParties: request.allowUnknownParties).check(request.edits, on: nil)
                return request.edits
            }
        }
        let passed = checked.compactMap { try? $0.get() }
        var authored = try await store.authorMany(passed.map { (nil, $0) }, signer: signer, nowMillis: clock()).makeIterator()
        return BulkCreateResponse(results: checked.map { check in
            switch check.map({ _ in authored.next()! }) {
            case .failure(let failure):
                return BulkCreateResult(created: nil, error: failure.body)
            case .success(.success(let stored)):
                counters.authored()
                return BulkCreateResult(
                    created: CreatedAgreement(id: stored.agreement.description, change: stored.change.id.hex, sequence: stored.sequence), error: nil
                )
            case .success(.failure(let rejection)):
                return BulkCreateResult(created: nil, error: ErrorResponse(code: rejection.code.description, message: rejection.message))
            }
        })
    }

    func author(_ id: AgreementID, _ edits: [Edit], allowUnknownParties: Bool = false) async throws -> ChangeReceipt {
        let checks = authoringChecks(allowUnknownParties: allowUnknownParties)
        // Judged on the writer's replica in the write's own transaction: no replay of the log,
        // and no edit in between.
        let stored = try await store.author(id, edits, signer: signer, nowMillis: clock()) { current in
            guard let current else { throw Self.unknown(id) }
            try checks.check(edits, on: current)
        }
        counters.authored()
        return ChangeReceipt(agreement: id.description, change: stored.change.id.hex, sequence: stored.sequence)
    }

    /// Signs the current terms as this node's organisation: the approval is a signature over the
    /// exact terms hash, so it goes stale by itself when the terms change.
    func approve(_ id: AgreementID, _ request: ApproveRequest) async throws -> ChangeReceipt {
        guard let detail = try await store.agreement(id) else { throw Self.unknown(id) }
        let termsHash = detail.agreement.termsHash
        if let expected = request.termsHash, expected.lowercased() != termsHash.hex {
            throw AdminFailure(
                .conflict, "terms-changed",
                "the terms changed since you read them (now \(termsHash.hex.prefix(16))…, you approved \(expected.prefix(16))…); read them again"
            )
        }
        let signature = try signer.approvalSignature(agreement: id, termsHash: termsHash)
        return try await author(id, [.approve(organisation: configuration.node.organisation, termsHash: termsHash, signature: signature)])
    }

    private func evidence(_ id: AgreementID) async throws -> EvidenceResponse {
        let agreement = try await existing(id)
        let authority: String
        do {
            authority = try String(contentsOfFile: configuration.certificateAuthority, encoding: .utf8)
        } catch {
            throw AdminFailure(.serviceUnavailable, "ca-unreadable", "\(configuration.certificateAuthority): cannot be read: \(error)")
        }
        let bundle = EvidenceBundle(
            agreement: agreement, history: try await store.history(of: agreement), certificates: try await store.certificates(),
            authorityPEM: authority, exportedBy: configuration.node, exportedAt: clock()
        )
        return EvidenceResponse(agreement: agreement.description, files: bundle.files.map {
            EvidenceResponse.File(path: $0.path, base64: Data($0.bytes).base64EncodedString(), executable: $0.executable)
        })
    }

    private func consoleToken(_ request: ConsoleTokenRequest) throws -> ConsoleToken {
        guard let console, let address = configuration.console else {
            throw AdminFailure(.notFound, "console-off", "the web console is off; set [console] address in \(configuration.file) and restart")
        }
        let minutes = request.validMinutes ?? 60
        guard (1...1440).contains(minutes) else { throw AdminFailure.badRequest("validMinutes: \(minutes) is not within 1–1440") }
        let token = console.issueToken(validity: .seconds(minutes * 60))
        let host = address.host.contains(":") ? "[\(address.host)]" : address.host
        return ConsoleToken(token: token, expiresAt: Views.time(clock() + UInt64(minutes) * 60_000), url: "http://\(host):\(address.port)/login")
    }

    private func synchronise(_ request: SyncRequest) async throws -> SyncResponse {
        let organisation = try request.peer.map { name throws(AdminFailure) in try EditRequests.organisation(name, "peer") }
        if let organisation, !configuration.peers.contains(where: { $0.organisation == organisation }) {
            throw AdminFailure.notFound("\(organisation) is not a configured peer of this node")
        }
        let seconds = request.timeoutSeconds ?? 60
        guard seconds > 0, seconds <= 3600 else { throw AdminFailure.badRequest("timeoutSeconds: \(seconds) is not within 0–3600") }
        let results = await sync.synchronise(with: organisation, timeout: .milliseconds(Int64(seconds * 1000)))
        return SyncResponse(rounds: results.sorted { $0.key < $1.key }.map { node, result in
            switch result {
            case .success(let round): SyncRound(node: node.description, result: Views.reconcile(round), error: nil)
            case .failure(let failure): SyncRound(node: node.description, result: nil, error: failure.description)
            }
        })
    }

    // MARK: - Operations

    /// Writes a checked snapshot of the store to the request's path while the node keeps serving.
    private func backup(_ request: BackupRequest) async throws -> BackupResult {
        let report: BackupReport
        do {
            report = try await store.backup(to: request.path)
        } catch {
            // The target is the caller's to fix; any other failure is the store's (503).
            guard [StoreError.Code.exists, .unavailable].contains(error.code) else { throw error }
            throw AdminFailure(.unprocessableEntity, "backup-\(error.code)", "\(error)")
        }
        return BackupResult(
            path: report.path, bytes: report.bytes, lastSequence: report.lastSequence, agreements: report.agreements, changes: report.changes
        )
    }

    // MARK: - Helpers

    /// The organisations this node knows: its own, its configured peers', and every one it holds
    /// a certificate of (met in a session, or an author of a change it holds), from memory.
    func knownOrganisations() -> Set<OrganisationID> {
        var known = sync.knownOrganisations.union(configuration.peers.map(\.organisation))
        known.insert(configuration.node.organisation)
        return known
    }

    func authoringChecks(allowUnknownParties: Bool) -> AuthoringChecks {
        AuthoringChecks(knownOrganisations: knownOrganisations(), allowUnknownParties: allowUnknownParties)
    }

    func existing(_ id: AgreementID) async throws -> AgreementID {
        guard try await store.history(of: id).isEmpty == false else { throw Self.unknown(id) }
        return id
    }

    private static func unknown(_ id: AgreementID) -> AdminFailure {
        AdminFailure.notFound("this node holds no agreement \(id)")
    }

    func agreementID(_ text: String) throws(AdminFailure) -> AgreementID {
        guard let id = AgreementID(uuidString: text) else { throw AdminFailure.badRequest("\"\(text)\" is not an agreement id (a UUID)") }
        return id
    }

    /// The agreement `text` names: its id, or a reference it was imported under (a CRM's record
    /// number, `crm-4701`), or `accord:ID` as an export writes it.
    func agreement(named text: String) async throws -> AgreementID {
        if let id = AgreementID(uuidString: text) { return id }
        guard !text.isEmpty, let id = try await importedAgreement(text) else {
            throw AdminFailure.notFound("\"\(text)\" is neither an agreement id (a UUID) nor the reference of an agreement imported here")
        }
        return id
    }

    private func body<Body: Decodable>(_ request: AdminRequest, emptyAs empty: Body? = nil) throws -> Body {
        if request.body.isEmpty, let empty { return empty }
        return try EditRequests.decode(request.body)
    }

    private func json<Value: Encodable>(_ value: Value, status: HTTPResponseStatus = .ok) throws -> AdminResponse {
        AdminResponse(status: status, body: Array(try AdminAPI.encoder().encode(value)) + [UInt8(ascii: "\n")])
    }
}
