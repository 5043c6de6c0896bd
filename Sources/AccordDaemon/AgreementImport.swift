import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore
import Foundation
import HTTPTypes

/// `POST /v1/agreements/import` and `GET /v1/agreements/export` (docs/import-export.md).
extension NodeAdministration {
    /// Judges every record the same way whether or not it is a dry run — its reference against
    /// what this node holds, its fields, the authoring checks and the model's rules for a new
    /// agreement — and then, unless it is a dry run (or an all-or-nothing request with a refusal),
    /// creates the records judged valid.
    func importAgreements(_ request: ImportRequest) async throws -> ImportResponse {
        guard request.agreements.count <= ImportRequest.maximumAgreements else {
            throw AdminFailure.badRequest("at most \(ImportRequest.maximumAgreements) agreements per request, got \(request.agreements.count)")
        }
        let checks = authoringChecks(allowUnknownParties: request.allowUnknownParties == true)
        var results: [ImportResponse.Result] = []
        var valid: [(index: Int, reference: String, edits: [Edit])] = []
        var earlier: [String: AgreementRecord] = [:]
        for (index, record) in request.agreements.enumerated() {
            let reference = Self.reference(of: record)
            if let known = try await importedAgreement(reference) {
                results.append(try await compare(record, reference: reference, with: known))
                continue
            }
            if let first = earlier[reference] {
                // The real run creates the first and finds the later one present: say so now.
                let same = Self.normalised(first) == Self.normalised(record)
                results.append(ImportResponse.Result(
                    reference: reference, outcome: same ? .present : .differs,
                    error: same ? nil : ErrorResponse(code: "reference-repeated", message: "reference \(reference) is given twice in this import, with different terms")
                ))
                continue
            }
            earlier[reference] = record
            do {
                let edits = try edits(of: record, checks: checks)
                results.append(ImportResponse.Result(reference: reference, outcome: .valid))
                valid.append((index, reference, edits))
            } catch {
                results.append(ImportResponse.Result(reference: reference, outcome: .refused, error: Self.errorResponse(error)))
            }
        }
        let refusedAny = results.contains { $0.outcome == .refused }
        if request.dryRun == true || (request.allOrNothing == true && refusedAny) { return ImportResponse(results: results) }

        let outcomes = try await store.importMany(valid.map { ($0.reference, $0.edits) }, signer: signer, nowMillis: clock())
        for ((index, _, _), outcome) in zip(valid, outcomes) {
            switch outcome {
            case .created(let stored):
                counters.authored()
                results[index].outcome = .created
                results[index].agreement = stored.agreement.description
            case .present(let agreement):
                results[index] = try await compare(request.agreements[index], reference: results[index].reference, with: agreement)
            case .refused(let rejection):
                results[index].outcome = .refused
                results[index].error = ErrorResponse(code: rejection.code.description, message: rejection.message)
            }
        }
        return ImportResponse(results: results)
    }

    /// The agreement a reference names: one imported under it, or — for `accord:ID`, the
    /// reference an export gives an agreement made on a node — that agreement, if this node holds it.
    func importedAgreement(_ reference: String) async throws -> AgreementID? {
        if reference.hasPrefix(Self.ownReferencePrefix), let id = AgreementID(uuidString: String(reference.dropFirst(Self.ownReferencePrefix.count))),
            try await store.agreement(id) != nil
        {
            return id
        }
        return try await store.agreement(importedAs: reference)
    }

    static let ownReferencePrefix = "accord:"

    /// `present` if `record` has the terms `agreement` has now, else `differs` naming each field.
    private func compare(_ record: AgreementRecord, reference: String, with agreement: AgreementID) async throws -> ImportResponse.Result {
        guard let held = try await store.agreement(agreement)?.agreement else {
            return ImportResponse.Result(reference: reference, outcome: .present, agreement: agreement.description)
        }
        let differences = Self.differences(Self.normalised(record), Self.normalised(Self.record(of: held, reference: reference)))
        guard !differences.isEmpty else { return ImportResponse.Result(reference: reference, outcome: .present, agreement: agreement.description) }
        return ImportResponse.Result(
            reference: reference, outcome: .differs, agreement: agreement.description,
            error: ErrorResponse(
                code: "record-differs",
                message: "agreement \(agreement), imported under \(reference), differs from this record in \(differences.joined(separator: "; ")); "
                    + "nothing was changed: edit the agreement (accordctl agreements set \(agreement) FIELD VALUE, agreements commitment …), "
                    + "or give the record a new reference to import it as another agreement"
            )
        )
    }

    /// A record as an export writes it, for comparing: parties and commitments in order, empty
    /// framework and commitment lists as none, no reference.
    static func normalised(_ record: AgreementRecord) -> AgreementRecord {
        var record = record
        record.reference = nil
        record.parties = Array(Set(record.parties)).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        record.framework = record.framework.flatMap { $0.isEmpty ? nil : $0 }
        record.commitments = record.commitments.flatMap { $0.isEmpty ? nil : Self.ordered($0) }
        return record
    }

    /// The fields in which `record` (the file's) differs from `held` (this node's), with both values.
    static func differences(_ record: AgreementRecord, _ held: AgreementRecord) -> [String] {
        func pair(_ field: String, _ file: String?, _ node: String?) -> String? {
            file == node ? nil : "\(field) (\"\(node ?? "")\" here, \"\(file ?? "")\" in the record)"
        }
        var differences = [
            pair("title", record.title, held.title), pair("category", record.category, held.category),
            pair("parties", record.parties.joined(separator: ", "), held.parties.joined(separator: ", ")),
            pair("effectiveFrom", record.effectiveFrom, held.effectiveFrom), pair("expiresOn", record.expiresOn, held.expiresOn),
            pair("noticePeriod", record.noticePeriod.map(String.init), held.noticePeriod.map(String.init)),
        ].compactMap { $0 }
        for dimension in Set((record.framework ?? [:]).keys).union((held.framework ?? [:]).keys).sorted() {
            if let difference = pair("framework.\(dimension)", record.framework?[dimension], held.framework?[dimension]) { differences.append(difference) }
        }
        if record.commitments != held.commitments {
            differences.append("commitments (\(held.commitments?.count ?? 0) here, \(record.commitments?.count ?? 0) in the record, or their content)")
        }
        return differences
    }

    /// The agreements (of `party`, in `status`) as importable records.
    func exportAgreements(_ query: [String: String]) async throws -> [AgreementRecord] {
        let references = try await store.importReferences()
        var records: [AgreementRecord] = []
        for item in try await list(query) {
            let id = try agreementID(item.id)
            guard let agreement = try await store.agreement(id)?.agreement else { continue }
            records.append(Self.record(of: agreement, reference: references[id] ?? "\(Self.ownReferencePrefix)\(id)"))
        }
        return records
    }

    static func record(of agreement: Agreement, reference: String) -> AgreementRecord {
        var framework: [String: String] = [:]
        for (dimension, text) in agreement.framework { framework[dimension.name] = text }
        let commitments = ordered(agreement.commitments.compactMap { commitment -> AgreementRecord.Commitment? in
            guard let by = commitment.by, let kind = commitment.kind, let description = commitment.description else { return nil }
            return AgreementRecord.Commitment(
                by: by.rawValue, kind: kind.name, description: description, dueDate: commitment.dueDate?.description,
                amount: commitment.amount?.description, every: commitment.schedule?.every.name, from: commitment.schedule?.from.description,
                until: commitment.schedule?.until?.description
            )
        })
        var record = AgreementRecord(
            reference: reference, title: agreement.title ?? "", category: agreement.category?.name ?? "",
            parties: agreement.parties.map(\.rawValue), effectiveFrom: agreement.effectiveFrom?.description,
            expiresOn: agreement.expiresOn?.description, framework: framework.isEmpty ? nil : framework,
            commitments: commitments.isEmpty ? nil : commitments
        )
        record.noticePeriod = agreement.noticeDays
        return record
    }

    /// Commitments by content, not by id: ids are random, and an import gives new ones.
    static func ordered(_ commitments: [AgreementRecord.Commitment]) -> [AgreementRecord.Commitment] {
        commitments.sorted { ($0.dueDate ?? "~", $0.by, $0.kind, $0.description) < ($1.dueDate ?? "~", $1.by, $1.kind, $1.description) }
    }

    /// The record's own reference, or `sha256:` and the hash of the record (without reference)
    /// as sorted-key JSON: the same record always gets the same reference.
    static func reference(of record: AgreementRecord) -> String {
        if let reference = record.reference, !reference.isEmpty { return reference }
        var content = record
        content.reference = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return "sha256:" + SHA256Digest(hashing: Array((try? encoder.encode(content)) ?? Data())).hex
    }

    /// The genesis edits of a record, checked as `POST /v1/agreements` checks a new agreement —
    /// the fields, the authoring checks, and the model's rules for a new agreement, judged on a
    /// signed genesis as the store would judge it — so that a dry run refuses what the real run
    /// would.
    private func edits(of record: AgreementRecord, checks: AuthoringChecks) throws -> [Edit] {
        var edits = try EditRequests.create(CreateAgreementRequest(
            title: record.title, category: record.category, parties: record.parties, framework: record.framework,
            effectiveFrom: record.effectiveFrom, expiresOn: record.expiresOn, noticePeriod: record.noticePeriod.map(String.init)
        ))
        for (index, commitment) in (record.commitments ?? []).enumerated() {
            do {
                edits += try EditRequests.commitment(CommitmentRequest(
                    action: .add, by: commitment.by, kind: commitment.kind, description: commitment.description, dueDate: commitment.dueDate,
                    amount: commitment.amount, every: commitment.every, from: commitment.from, until: commitment.until
                )).1
            } catch {
                throw AdminFailure.badRequest("commitments[\(index)].\(error.body.message)")
            }
        }
        let own = configuration.node.organisation.rawValue
        guard record.parties.contains(own) else {
            throw AdminFailure(.unprocessableContent, "author-not-party", "parties: \(own), whose node imports it, is not among them")
        }
        try checks.check(edits, on: nil)
        let now = clock()
        let genesis = try Change.genesis(stamp: Stamp(millis: now, counter: 0, node: configuration.node), edits: edits)
        var replica = AgreementReplica(id: genesis.agreement)
        if case .rejected(let rejection) = replica.apply(try signer.sign(genesis), nowMillis: now).outcome { throw rejection }
        return edits
    }

    private static func errorResponse(_ error: any Error) -> ErrorResponse {
        switch error {
        case let failure as AdminFailure: failure.body
        case let rejection as ChangeRejection: ErrorResponse(code: rejection.code.description, message: rejection.message)
        default: ErrorResponse(code: "bad-request", message: "\(error)")
        }
    }
}
