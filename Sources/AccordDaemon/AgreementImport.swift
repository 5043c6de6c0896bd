import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore
import Foundation
import NIOHTTP1

/// `POST /v1/agreements/import` and `GET /v1/agreements/export` (docs/import-export.md).
extension NodeAdministration {
    func importAgreements(_ request: ImportRequest) async throws -> ImportResponse {
        guard request.agreements.count <= ImportRequest.maximumAgreements else {
            throw AdminFailure.badRequest("at most \(ImportRequest.maximumAgreements) agreements per request, got \(request.agreements.count)")
        }
        // Every record is checked before anything is made.
        let checked = request.agreements.map { record in (reference: Self.reference(of: record), edits: Result { try self.edits(of: record) }) }
        var results = checked.map { entry in
            switch entry.edits {
            case .success: ImportResponse.Result(reference: entry.reference, outcome: .valid)
            case .failure(let error): ImportResponse.Result(reference: entry.reference, outcome: .refused, error: Self.errorResponse(error))
            }
        }
        let refusedAny = results.contains { $0.outcome == .refused }
        if request.dryRun == true || (request.allOrNothing == true && refusedAny) { return ImportResponse(results: results) }

        let valid = checked.enumerated().compactMap { index, entry in (try? entry.edits.get()).map { (index, entry.reference, $0) } }
        let outcomes = try await store.importMany(valid.map { ($0.1, $0.2) }, signer: signer, nowMillis: clock())
        for ((index, _, _), outcome) in zip(valid, outcomes) {
            switch outcome {
            case .created(let stored):
                counters.authored()
                results[index].outcome = .created
                results[index].agreement = stored.agreement.description
            case .present(let agreement):
                results[index].outcome = .present
                results[index].agreement = agreement.description
            case .refused(let rejection):
                results[index].outcome = .refused
                results[index].error = ErrorResponse(code: rejection.code.description, message: rejection.message)
            }
        }
        return ImportResponse(results: results)
    }

    /// The agreements (of `party`, in `status`) as importable records.
    func exportAgreements(_ query: [String: String]) async throws -> [AgreementRecord] {
        let references = try await store.importReferences()
        var records: [AgreementRecord] = []
        for item in try await list(query) {
            let id = try agreementID(item.id)
            guard let agreement = try await store.agreement(id)?.agreement else { continue }
            records.append(Self.record(of: agreement, reference: references[id] ?? "accord:\(id)"))
        }
        return records
    }

    static func record(of agreement: Agreement, reference: String) -> AgreementRecord {
        var framework: [String: String] = [:]
        for (dimension, text) in agreement.framework { framework[dimension.name] = text }
        let commitments = agreement.commitments.compactMap { commitment -> AgreementRecord.Commitment? in
            guard let by = commitment.by, let kind = commitment.kind, let description = commitment.description else { return nil }
            return AgreementRecord.Commitment(by: by.rawValue, kind: kind.name, description: description, dueDate: commitment.dueDate?.description)
        }.sorted {
            // By content, not by id: ids are random, and an import gives new ones.
            ($0.dueDate ?? "~", $0.by, $0.kind, $0.description) < ($1.dueDate ?? "~", $1.by, $1.kind, $1.description)
        }
        return AgreementRecord(
            reference: reference, title: agreement.title ?? "", category: agreement.category?.name ?? "",
            parties: agreement.parties.map(\.rawValue), effectiveFrom: agreement.effectiveFrom?.description,
            expiresOn: agreement.expiresOn?.description, framework: framework.isEmpty ? nil : framework,
            commitments: commitments.isEmpty ? nil : commitments
        )
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

    /// The genesis edits of a record, checked as `POST /v1/agreements` checks a new agreement.
    private func edits(of record: AgreementRecord) throws -> [Edit] {
        var edits = try EditRequests.create(CreateAgreementRequest(
            title: record.title, category: record.category, parties: record.parties, framework: record.framework,
            effectiveFrom: record.effectiveFrom, expiresOn: record.expiresOn
        ))
        for (index, commitment) in (record.commitments ?? []).enumerated() {
            do {
                edits += try EditRequests.commitment(CommitmentRequest(
                    action: .add, by: commitment.by, kind: commitment.kind, description: commitment.description, dueDate: commitment.dueDate
                )).1
            } catch {
                throw AdminFailure.badRequest("commitments[\(index)].\(error.body.message)")
            }
        }
        let own = configuration.node.organisation.rawValue
        guard record.parties.contains(own) else {
            throw AdminFailure(.unprocessableEntity, "author-not-party", "parties: \(own), whose node imports it, is not among them")
        }
        _ = try Change.genesis(stamp: Stamp(millis: clock(), counter: 0, node: configuration.node), edits: edits)
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
