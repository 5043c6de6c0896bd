import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordPeople
import AccordRefusals
import AccordStore
import AccordSync
import Foundation
import HTTPTypes

/// What can be done with one node: read its agreements and sync state, author changes in its
/// name, start reconciliation. The admin API (`AdminRoutes`) and the console (`ConsoleRoutes`)
/// call these operations; they parse requests and write answers, this type decides.
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
    /// The process's refusal log, whose counts `GET /metrics` serves.
    let refusals: RefusalLog
    /// How the people who act through the console are named in attributions (`[people] share`).
    let naming: ActorNaming

    init(
        live: LiveConfiguration, store: NodeStore, sync: SyncNode, reloader: ConfigurationReloader, events: EventHub,
        console: ConsoleAuthority?, refusals: RefusalLog, naming: ActorNaming = .plain, clock: @escaping @Sendable () -> UInt64
    ) {
        self.naming = naming
        self.events = events
        self.refusals = refusals
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

    var today: CalendarDate { CalendarDate(unixMillis: clock()) }

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
        // A void draft was a mistake: listed only when asked for by its status.
        return try await store.agreements(party: party, status: status, today: today).filter { status != nil || $0.status != .void }
    }

    func show(_ id: AgreementID) async throws -> AgreementView { try await showing(id).view }

    /// The view of `show`, and the current terms it was made from (one replay of the log).
    func showing(_ id: AgreementID) async throws -> (view: AgreementView, terms: Terms) {
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
        let agreement = detail.agreement
        // Who made what the view names a person for: approvals, notes, steps, the end.
        let steps = agreement.commitments.flatMap { [$0.progress.write?.change] + $0.periods.values.map(\.write?.change) }.compactMap { $0 }
        let made = agreement.approvals.values.map(\.change) + agreement.notes.map(\.change) + steps
            + [agreement.termination?.change, agreement.void?.change].compactMap { $0 }
        let approvals = agreement.approvals.values.map(\.change)
        var view = Views.agreement(
            detail, today: today, delivery: delivery, attributions: try await store.attributions(of: Array(Set(made))),
            passkeySignatures: try await store.passkeySignatures(of: approvals)
        )
        view.reference = try await store.importReference(of: id)
        return (view, agreement.terms)
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

    /// A new agreement of `edits`, checked (`AuthoringChecks`) and judged by the rules.
    func create(_ edits: [Edit], allowUnknownParties: Bool, actor: ActingPerson?) async throws -> StoredChange {
        try authoringChecks(allowUnknownParties: allowUnknownParties).check(edits, on: nil)
        let stored = try await store.author(nil, edits, signer: signer, actor: actor, nowMillis: clock())
        counters.authored()
        return stored
    }

    /// Every request was decoded and checked before any is authored; each is then judged by the
    /// rules on its own, in one transaction. One result per request, in order.
    func createMany(_ requests: [AdminRequestDecoding.Decoded], actor: ActingPerson?) async throws -> [Result<StoredChange, AdminFailure>] {
        let checks = authoringChecks(allowUnknownParties: false)
        let checked = requests.map { request in
            Result { () throws(AdminFailure) in
                try AuthoringChecks(knownOrganisations: checks.knownOrganisations, allowUnknownParties: request.allowUnknownParties)
                    .check(request.edits, on: nil)
                return request.edits
            }
        }
        let passed = checked.compactMap { try? $0.get() }
        var authored = try await store.authorMany(passed.map { (nil, $0) }, signer: signer, actor: actor, nowMillis: clock()).makeIterator()
        return checked.map { check in
            check.flatMap { _ in
                authored.next()!.mapError { AdminFailure(.unprocessableContent, $0.code.description, $0.message) }
            }.map { stored in
                counters.authored()
                return stored
            }
        }
    }

    /// A change of `edits` to agreement `id`, checked against the agreement as the writer holds
    /// it, in the write's own transaction (no replay of the log, and no edit in between).
    func author(_ id: AgreementID, _ edits: [Edit], allowUnknownParties: Bool = false, actor: ActingPerson?) async throws -> StoredChange {
        try await author(id, AdminRequestDecoding.Decoded(edits: edits, allowUnknownParties: allowUnknownParties), actor: actor)
    }

    /// A decoded request's change: its edits, or those its intent resolves to on the agreement as
    /// the writer holds it (`EditIntent`).
    func author(_ id: AgreementID, _ request: AdminRequestDecoding.Decoded, actor: ActingPerson?) async throws -> StoredChange {
        let checks = authoringChecks(allowUnknownParties: request.allowUnknownParties)
        let organisation = configuration.node.organisation
        let stored = try await store.author(id, signer: signer, actor: actor, nowMillis: clock()) { current in
            guard let current else { throw Self.unknown(id) }
            let edits = try request.intent?.edits(on: current, as: organisation) ?? request.edits
            try checks.check(edits, on: current)
            return edits
        }
        counters.authored()
        return stored
    }

    /// Signs the current terms as this node's organisation: the approval is a signature over the
    /// exact terms hash the writer holds, so it goes stale by itself when the terms change. With
    /// `expected`, nothing is signed unless those are the terms (409 `terms-changed`).
    /// - Parameter passkey: the approver's passkey assertion over those terms (checked by the
    ///   caller); required where `[approvals] require_passkey` is set.
    func approve(_ id: AgreementID, expected: String?, actor: ActingPerson?, passkey: PasskeyEvidence? = nil) async throws -> StoredChange {
        if configuration.requirePasskey && passkey == nil {
            throw AdminFailure(
                .forbidden, "passkey-required",
                "\(configuration.node.organisation) requires approvals signed with the approver's own passkey ([approvals] require_passkey "
                    + "in \(configuration.file)): approve in the web console, signed in as yourself"
            )
        }
        let (signer, organisation) = (self.signer, configuration.node.organisation)
        let stored = try await store.author(id, signer: signer, actor: actor, passkey: passkey, nowMillis: clock()) { current in
            guard let current else { throw Self.unknown(id) }
            let termsHash = current.termsHash
            if let expected, expected.lowercased() != termsHash.hex {
                throw AdminFailure(
                    .conflict, "terms-changed",
                    "the terms changed since you read them (now \(termsHash.hex.prefix(16))…, you approved \(expected.prefix(16))…); read them again"
                )
            }
            let signature = try signer.approvalSignature(agreement: id, termsHash: termsHash)
            return [.approve(organisation: organisation, termsHash: termsHash, signature: signature)]
        }
        counters.authored()
        return stored
    }

    func evidence(_ id: AgreementID) async throws -> EvidenceResponse {
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

    func consoleToken(_ request: ConsoleTokenRequest) throws -> ConsoleToken {
        guard let console, let address = configuration.console else {
            throw AdminFailure(.notFound, "console-off", "the web console is off; set [console] address in \(configuration.file) and restart")
        }
        let minutes = request.validMinutes ?? 60
        guard (1...1440).contains(minutes) else { throw AdminFailure.badRequest("validMinutes: \(minutes) is not within 1–1440") }
        let token = console.issueToken(validity: .seconds(minutes * 60))
        let url = configuration.consoleURL ?? address.defaultURL
        return ConsoleToken(token: token, expiresAt: Views.time(clock() + UInt64(minutes) * 60_000), url: "\(url)/login")
    }

    /// The console's live sessions, most recently active first.
    func consoleSessions() throws -> [ConsoleSessionInfo] {
        guard let console else { throw AdminFailure(.notFound, "console-off", "the web console is off") }
        return console.sessions().map { session in
            ConsoleSessionInfo(
                handle: session.handle, subject: session.person.subject, name: session.person.name, email: session.person.email,
                roles: session.person.roles.roles.sorted().map(\.rawValue), signIn: session.person.signIn.rawValue, source: session.source,
                openedAt: Views.time(UInt64(session.openedAt.timeIntervalSince1970 * 1000)), idleSeconds: Int(session.idle.components.seconds)
            )
        }
    }

    /// Ends the console session `handle` names: its next request finds no session.
    func endConsoleSession(_ handle: String) throws -> ConsoleSessionEnded {
        guard let console else { throw AdminFailure(.notFound, "console-off", "the web console is off") }
        guard console.end(handle: handle) else { throw AdminFailure.notFound("no console session has handle \(handle)") }
        return ConsoleSessionEnded(handle: handle)
    }

    func synchronise(_ request: SyncRequest) async throws -> SyncResponse {
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
    func backup(_ request: BackupRequest) async throws -> BackupResult {
        let report: BackupReport
        do {
            report = try await store.backup(to: request.path)
        } catch {
            // The target is the caller's to fix; any other failure is the store's (503).
            guard [StoreError.Code.exists, .unavailable].contains(error.code) else { throw error }
            throw AdminFailure(.unprocessableContent, "backup-\(error.code)", "\(error)")
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
        guard try await store.holds(id) else { throw Self.unknown(id) }
        return id
    }

    static func unknown(_ id: AgreementID) -> AdminFailure {
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
}
