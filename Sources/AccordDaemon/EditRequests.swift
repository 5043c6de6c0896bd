import AccordAdminAPI
package import AccordModel
import Foundation

/// Decoding of the admin API's edit requests into the model's edits, apart from acting on them:
/// the server uses it for every edit but approvals, and the fuzzer feeds it arbitrary bodies.
package enum AdminRequestDecoding {
    /// The action of `POST /v1/agreements` (a new agreement).
    package static let create = "create"
    /// The actions of `POST /v1/agreements/{id}/ACTION` that this decodes.
    package static let editActions: Set<String> = ["fields", "commitments", "terminate", "notes", "parties", "void"]

    /// What a request asks for: its edits, the commitment they are about (for `commitments`),
    /// and whether parties this node does not know are named on purpose (`AuthoringChecks`).
    package struct Decoded {
        package var edits: [Edit]
        package var commitment: CommitmentID? = nil
        package var allowUnknownParties = false
        /// Edits that depend on the agreement and on who this node is (instead of `edits`).
        var intent: EditIntent? = nil
    }

    /// The edits a request body asks for.
    /// - Throws: an error whose description says what is wrong with the body.
    package static func edits(for action: String, body: [UInt8]) throws -> Decoded {
        switch action {
        case create:
            let request: CreateAgreementRequest = try EditRequests.decode(body)
            return Decoded(edits: try EditRequests.create(request), allowUnknownParties: request.allowUnknownParties == true)
        case "fields": return Decoded(edits: [try EditRequests.setField(try EditRequests.decode(body))])
        case "commitments":
            let request: CommitmentRequest = try EditRequests.decode(body)
            let (commitment, edits) = try EditRequests.commitment(request)
            if request.action == .fulfil {
                let period = try request.period.map { text throws(AdminFailure) in try EditRequests.date(text, "period") } ?? nil
                return Decoded(edits: [], commitment: commitment, intent: .fulfil(commitment, period: period, text: request.text ?? ""))
            }
            return Decoded(edits: edits, commitment: commitment)
        case "terminate":
            let request: TerminateRequest = try EditRequests.decode(body)
            guard !request.reason.isEmpty else { throw AdminFailure.badRequest("a termination needs a reason") }
            return Decoded(edits: [], intent: .terminate(reason: request.reason))
        case "void":
            let request: VoidRequest = try EditRequests.decode(body)
            guard !request.reason.isEmpty else { throw AdminFailure.badRequest("voiding a draft needs a reason") }
            return Decoded(edits: [.void(reason: request.reason)])
        case "notes":
            let request: NoteRequest = try EditRequests.decode(body)
            guard !request.text.isEmpty else { throw AdminFailure.badRequest("a note needs text") }
            return Decoded(edits: [.note(request.text)])
        case "parties":
            let request: PartyRequest = try EditRequests.decode(body)
            if request.action == .remove {
                return Decoded(edits: [], intent: .removeParty(try EditRequests.organisation(request.organisation, "organisation")))
            }
            return Decoded(edits: [try EditRequests.party(request)], allowUnknownParties: request.allowUnknownParty == true)
        default: throw AdminFailure.notFound("no edit action \(action)")
        }
    }

    /// The edits of each agreement of a bulk create, all checked before any is made.
    /// - Throws: a 400 naming the first bad entry by its index.
    package static func bulkCreate(_ body: [UInt8]) throws -> [Decoded] {
        let request: BulkCreateRequest = try EditRequests.decode(body)
        guard !request.agreements.isEmpty, request.agreements.count <= BulkCreateRequest.maximumAgreements else {
            throw AdminFailure.badRequest("agreements: between 1 and \(BulkCreateRequest.maximumAgreements) per request, not \(request.agreements.count)")
        }
        var decoded: [Decoded] = []
        decoded.reserveCapacity(request.agreements.count)
        for (index, entry) in request.agreements.enumerated() {
            do throws(AdminFailure) {
                decoded.append(Decoded(edits: try EditRequests.create(entry), allowUnknownParties: entry.allowUnknownParties == true))
            } catch {
                throw AdminFailure.badRequest("agreements[\(index)]: \(error.body.message)")
            }
        }
        return decoded
    }
}

/// Turns admin API requests into the model's edits: pure, so every refusal is checked without a
/// store. Names are the model's (`technicalResources`, `framework.valueAlignment`…).
enum EditRequests {
    /// A JSON request body, or a 400 that says what is wrong with it.
    static func decode<Body: Decodable>(_ bytes: [UInt8]) throws(AdminFailure) -> Body {
        do {
            return try AdminAPI.decoder().decode(Body.self, from: Data(bytes))
        } catch {
            throw .badRequest("the request body is not a valid \(Body.self): \(describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? Swift.DecodingError else { return "\(error)" }
        switch error {
        case .keyNotFound(let key, _):
            return "missing \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\""
        case .dataCorrupted(let context):
            return context.debugDescription
        @unknown default:
            return "\(error)"
        }
    }

    static func create(_ request: CreateAgreementRequest) throws(AdminFailure) -> [Edit] {
        var edits: [Edit] = [.set(.title, .text(request.title)), .set(.category, .category(try term(request.category, "category")))]
        for name in request.parties { edits.append(.addParty(try organisation(name, "parties"))) }
        for (name, text) in (request.framework ?? [:]).sorted(by: { $0.key < $1.key }) {
            edits.append(.set(.framework(try term(name, "framework") as FrameworkDimension), .text(text)))
        }
        if let from = request.effectiveFrom { edits.append(.set(.effectiveFrom, .date(try date(from, "effectiveFrom")))) }
        if let until = request.expiresOn { edits.append(.set(.expiresOn, .date(try date(until, "expiresOn")))) }
        if let notice = request.noticePeriod { edits.append(.set(.noticePeriod, .days(try days(notice, "noticePeriod")))) }
        return edits
    }

    /// The fields `set` takes by name, for help texts and errors.
    static let settableFields = "title, category, framework.<"
        + FrameworkDimension.allCases.map(\.name).joined(separator: "|") + ">, effectiveFrom, expiresOn, noticePeriod (days)"

    static func setField(_ request: SetFieldRequest) throws(AdminFailure) -> Edit {
        let name = request.field.hasPrefix("term.") ? String(request.field.dropFirst(5)) : request.field
        switch name {
        case "title": return .set(.title, .text(request.value))
        case "category": return .set(.category, .category(try term(request.value, "category")))
        case "effectiveFrom": return .set(.effectiveFrom, .date(try date(request.value, "effectiveFrom")))
        case "expiresOn": return .set(.expiresOn, .date(try date(request.value, "expiresOn")))
        case "noticePeriod": return .set(.noticePeriod, .days(try days(request.value, "noticePeriod")))
        case _ where name.hasPrefix("framework."):
            let dimension: FrameworkDimension = try term(String(name.dropFirst("framework.".count)), "framework dimension")
            return .set(.framework(dimension), .text(request.value))
        default:
            throw .badRequest("unknown field \"\(request.field)\"; fields: \(settableFields)")
        }
    }

    /// The edits of a commitment request and the commitment they are about (new for `add`).
    static func commitment(_ request: CommitmentRequest) throws(AdminFailure) -> (CommitmentID, [Edit]) {
        let id: CommitmentID
        if request.action == .add {
            var generator = SystemRandomNumberGenerator()
            id = CommitmentID(UUIDBytes.random(using: &generator))
            guard request.by != nil, request.kind != nil, request.description != nil else {
                throw .badRequest("a new commitment needs by, kind and description")
            }
        } else {
            guard let text = request.commitment, let existing = CommitmentID(uuidString: text) else {
                throw .badRequest("\(request.action.rawValue) needs the commitment's id (a UUID, as `agreements show` lists it)")
            }
            id = existing
        }
        var edits: [Edit] = []
        if let by = request.by { edits.append(.set(.commitment(id, .by), .organisation(try organisation(by, "by")))) }
        if let kind = request.kind { edits.append(.set(.commitment(id, .kind), .commitmentKind(try term(kind, "kind")))) }
        if let description = request.description { edits.append(.set(.commitment(id, .description), .text(description))) }
        if let due = request.dueDate { edits.append(.set(.commitment(id, .dueDate), .date(try date(due, "dueDate")))) }
        if let amount = request.amount {
            do {
                edits.append(.set(.commitment(id, .amount), .amount(amount.isEmpty ? nil : try Money.amount(amount))))
            } catch {
                throw .badRequest("amount: \(error)")
            }
        }
        if let every = request.every { edits.append(.set(.commitment(id, .schedule), .schedule(try schedule(every, from: request.from, until: request.until)))) }
        let period = try request.period.map { text throws(AdminFailure) in try date(text, "period") } ?? nil
        let text = request.text ?? ""
        switch request.action {
        case .add: edits.append(.set(.commitment(id, .state), .commitmentState(.open)))
        case .update: if edits.isEmpty { throw .badRequest("update needs at least one of by, kind, description, dueDate, amount, every") }
        case .claim: edits = [.progress(id, period: period, step: .claim, text: text)]
        case .confirm: edits = [.progress(id, period: period, step: .confirm, text: text)]
        case .dispute:
            guard !text.allSatisfy(\.isWhitespace) else { throw .badRequest("a dispute needs its reason (text)") }
            edits = [.progress(id, period: period, step: .dispute, text: text)]
        case .waive: edits = [.progress(id, period: period, step: .waive, text: text)]
        case .fulfil: edits = []
        case .remove: edits.append(.removeCommitment(id))
        }
        return (id, edits)
    }

    /// `monthly|quarterly|yearly` from a date, optionally until one; `none` for a one-off.
    static func schedule(_ every: String, from: String?, until: String?) throws(AdminFailure) -> Schedule? {
        if every == "none" || every.isEmpty { return nil }
        let recurrence: Recurrence = try term(every, "every")
        guard let fromText = from, let start = try date(fromText, "from") else {
            throw .badRequest("from: a recurring commitment needs the date of its first period (YYYY-MM-DD)")
        }
        let end = try until.map { text throws(AdminFailure) in try date(text, "until") } ?? nil
        guard let schedule = Schedule(every: recurrence, from: start, until: end) else {
            throw .badRequest("until: \(end!) is before from \(start)")
        }
        return schedule
    }

    /// A number of days, at most `FieldValue.maximumDays`, or empty to clear.
    static func days(_ text: String, _ field: String) throws(AdminFailure) -> Int? {
        if text.isEmpty { return nil }
        guard let days = Int(text), (0...FieldValue.maximumDays).contains(days) else {
            throw .badRequest("\(field): \"\(text)\" is not a number of days from 0 to \(FieldValue.maximumDays)")
        }
        return days
    }

    static func party(_ request: PartyRequest) throws(AdminFailure) -> Edit {
        let organisation = try organisation(request.organisation, "organisation")
        return request.action == .add ? .addParty(organisation) : .withdrawParty(organisation)
    }

    static func organisation(_ name: String, _ field: String) throws(AdminFailure) -> OrganisationID {
        guard let organisation = OrganisationID(rawValue: name) else { throw .badRequest("\(field): \"\(name)\" is not an organisation id") }
        return organisation
    }

    static func term<Term: VocabularyTerm>(_ name: String, _ field: String) throws(AdminFailure) -> Term {
        guard let term = Term(name: name) else { throw .badRequest("\(field): \"\(name)\" is not one of \(Term.names)") }
        return term
    }

    /// `YYYY-MM-DD`, or empty to clear.
    static func date(_ text: String, _ field: String) throws(AdminFailure) -> CalendarDate? {
        if text.isEmpty { return nil }
        guard let date = CalendarDate(iso8601: text) else { throw .badRequest("\(field): \"\(text)\" is not a date (YYYY-MM-DD)") }
        return date
    }
}
