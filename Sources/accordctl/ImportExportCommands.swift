import AccordAdminAPI
import ArgumentParser
import Foundation

/// The file formats of `agreements import` and `export` (docs/import-export.md).
enum RecordFormat: String, ExpressibleByArgument, CaseIterable {
    case jsonl, csv

    static func of(_ path: String) -> RecordFormat { path.lowercased().hasSuffix(".csv") ? .csv : .jsonl }
}

extension Agreements {
    struct Import: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create agreements from a JSON Lines or CSV file; running it again creates nothing twice.",
            discussion: """
                Every record is checked first, with every rule the real run applies (--dry-run stops there); \
                errors name the line and the field, all of them in one run. Each agreement is created on its own: \
                a bad record creates nothing of itself and does not stop the others, unless --all-or-nothing. A \
                record whose reference (or, without one, whose content) this node imported before — or this \
                node's own export of an agreement it holds (accord:ID) — is already present; if its terms differ \
                from the agreement's, it is reported as differing and nothing is changed. Exit status 1 if any \
                record was refused or differs.
                """
        )

        @OptionGroup var connection: Connection

        @Argument(help: ArgumentHelp("The file (.csv is read as CSV, anything else as JSON Lines).", valueName: "file"))
        var file: String

        @Option(help: ArgumentHelp("jsonl or csv (default: by the file's extension).", valueName: "format"))
        var format: RecordFormat?

        @Flag(help: "Check every record and create nothing.")
        var dryRun = false

        @Flag(help: "Create nothing if any record is refused.")
        var allOrNothing = false

        @Flag(help: "Accept parties this node knows no certificate or peer of (new partners, named on purpose).")
        var allowUnknownParty = false

        /// Records per request: well under the admin API's request limit for records of usual size.
        static let batchRecords = 1000
        static let batchBytes = 768 * 1024

        func execute(_ client: AdminClient, json: Bool) async throws {
            let records = try read()
            var summary = ImportSummary()
            if allOrNothing, !dryRun {
                // First every batch as a dry run: one refusal anywhere and nothing is created.
                try await send(records, dryRun: true, client, into: &summary)
                if summary.refused > 0 { return try summary.finish(json: json, note: "nothing was created (--all-or-nothing)") }
                summary = ImportSummary()
            }
            try await send(records, dryRun: dryRun, client, into: &summary)
            try summary.finish(json: json, note: dryRun ? "dry run: nothing was created" : nil)
        }

        private func read() throws -> [(line: Int, record: AgreementRecord)] {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw CommandFailure(exitCode: CommandFailure.refused, message: "\(file): cannot be read as UTF-8 text (\(error.localizedDescription))")
            }
            switch format ?? RecordFormat.of(file) {
            case .csv:
                do {
                    return try AgreementCSV.parse(text)
                } catch {
                    throw CommandFailure(
                        exitCode: CommandFailure.refused,
                        message: error.failures.map { "\(file): \($0)" }.joined(separator: "\n") + "\nnothing was imported (\(error.failures.count) error(s))"
                    )
                }
            case .jsonl:
                var records: [(Int, AgreementRecord)] = []
                var failures: [String] = []
                for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                    do {
                        records.append((index + 1, try JSONDecoder().decode(AgreementRecord.self, from: Data(line.utf8))))
                    } catch let error as DecodingError {
                        failures.append("\(file): line \(index + 1): \(Self.describe(error))")
                    }
                }
                guard failures.isEmpty else {
                    throw CommandFailure(
                        exitCode: CommandFailure.refused, message: failures.joined(separator: "\n") + "\nnothing was imported (\(failures.count) error(s))"
                    )
                }
                return records
            }
        }

        private func send(_ records: [(line: Int, record: AgreementRecord)], dryRun: Bool, _ client: AdminClient, into summary: inout ImportSummary) async throws {
            var start = 0
            let progress = isatty(STDERR_FILENO) == 1
            while start < records.count {
                var end = start
                var bytes = 0
                while end < records.count, end - start < Self.batchRecords {
                    bytes += (try? JSONEncoder().encode(records[end].record).count) ?? 0
                    if bytes > Self.batchBytes, end > start { break }
                    end += 1
                }
                let batch = Array(records[start..<end])
                let request = ImportRequest(agreements: batch.map(\.record), dryRun: dryRun, allowUnknownParties: allowUnknownParty ? true : nil)
                let (response, _): (ImportResponse, [UInt8]) = try await client.post("/v1/agreements/import", request)
                for (entry, result) in zip(batch, response.results) { summary.add(line: entry.line, result) }
                start = end
                if progress { FileHandle.standardError.write(Data("\r\(dryRun ? "checked" : "imported") \(start)/\(records.count)".utf8)) }
            }
            if progress, !records.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
        }

        static func describe(_ error: DecodingError) -> String {
            func path(_ context: DecodingError.Context) -> String {
                context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
            }
            switch error {
            case .keyNotFound(let key, let context): return "\((path(context) + "." + key.stringValue).trimmingCharacters(in: ["."])): is required"
            case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path(context)): \(context.debugDescription)"
            case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not JSON: \(context.debugDescription)" : "\(path(context)): \(context.debugDescription)"
            @unknown default: return "\(error)"
            }
        }
    }

    struct Export: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the agreements' terms as JSON Lines or CSV, importable on another node.",
            discussion: "What is kept and what is not: docs/import-export.md."
        )

        @OptionGroup var connection: Connection

        @Option(help: ArgumentHelp("Only agreements this organisation is a party to.", valueName: "organisation"))
        var party: String?

        @Option(help: ArgumentHelp("Only agreements in this status.", valueName: "status"))
        var status: String?

        @Option(help: ArgumentHelp("jsonl or csv (default: by --out's extension, else jsonl).", valueName: "format"))
        var format: RecordFormat?

        @Option(name: .customLong("out"), help: ArgumentHelp("The file to write (default: standard output).", valueName: "file"))
        var output: String?

        func execute(_ client: AdminClient, json: Bool) async throws {
            var components = URLComponents(string: "/v1/agreements/export")!
            var query: [URLQueryItem] = []
            if let party { query.append(URLQueryItem(name: "party", value: party)) }
            if let status { query.append(URLQueryItem(name: "status", value: status)) }
            components.queryItems = query.isEmpty ? nil : query
            components.percentEncodedQuery = components.percentEncodedQuery?.replacing("+", with: "%2B")
            let (records, _): ([AgreementRecord], [UInt8]) = try await client.get(components.string!)
            let text: String
            switch format ?? output.map(RecordFormat.of) ?? .jsonl {
            case .csv: text = AgreementCSV.render(records)
            case .jsonl:
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                text = try records.map { String(decoding: try encoder.encode($0), as: UTF8.self) + "\n" }.joined()
            }
            guard let output else { return FileHandle.standardOutput.write(Data(text.utf8)) }
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: output))
            } catch {
                throw CommandFailure(exitCode: CommandFailure.refused, message: "cannot write \(output): \(error.localizedDescription)")
            }
            FileHandle.standardError.write(Data("\(records.count) agreement(s) written to \(output)\n".utf8))
        }
    }
}

/// What an import did, record by record, and its closing summary.
struct ImportSummary {
    struct Line: Encodable {
        let line: Int
        let reference: String
        let outcome: String
        let agreement: String?
        let error: String?
    }

    private(set) var lines: [Line] = []
    var created: Int { lines.count { $0.outcome == ImportResponse.Outcome.created.rawValue } }
    var present: Int { lines.count { $0.outcome == ImportResponse.Outcome.present.rawValue } }
    var valid: Int { lines.count { $0.outcome == ImportResponse.Outcome.valid.rawValue } }
    var refused: Int { lines.count { $0.outcome == ImportResponse.Outcome.refused.rawValue } }
    var differs: Int { lines.count { $0.outcome == ImportResponse.Outcome.differs.rawValue } }

    mutating func add(line: Int, _ result: ImportResponse.Result) {
        lines.append(Line(line: line, reference: result.reference, outcome: result.outcome.rawValue, agreement: result.agreement, error: result.error?.message))
    }

    /// Prints the summary (and each refusal or difference with its line); exit status 1 if any
    /// record was refused or differs from the agreement its reference names.
    func finish(json: Bool, note: String?) throws {
        if json {
            struct Report: Encodable {
                let created, present, differs, valid, refused: Int
                let records: [Line]
            }
            Output.json(Array(try AdminAPI.encoder().encode(Report(
                created: created, present: present, differs: differs, valid: valid, refused: refused, records: lines
            ))))
        } else {
            for line in lines where line.outcome == "refused" || line.outcome == "differs" {
                print("line \(line.line): \(line.outcome == "refused" ? "refused" : "differs"): \(line.error ?? "")")
            }
            print(
                "created \(created), already present \(present)" + (differs > 0 ? ", differs \(differs)" : "")
                    + (valid > 0 ? ", valid \(valid)" : "") + ", refused \(refused)" + (note.map { "; \($0)" } ?? "")
            )
        }
        if refused > 0 || differs > 0 { throw ExitCode(CommandFailure.refused) }
    }
}

extension Agreements {
    struct Due: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open commitments due and agreements expiring soon, across all agreements, by date, with their owner.",
            discussion: "Past dates are listed too (overdue, expired). The node counts them in status and in the metrics accord_commitments_overdue and accord_agreements_expiring."
        )

        @OptionGroup var connection: Connection

        @Option(help: ArgumentHelp("How far ahead to look, in days (30d or 30).", valueName: "days"))
        var within = "30d"

        @Flag(help: "Only what is past its date.")
        var overdue = false

        @Flag(help: "Only the commitments this node's organisation owes.")
        var ours = false

        @Option(help: ArgumentHelp("Only the commitments this organisation owes.", valueName: "organisation"))
        var owedBy: String?

        func validate() throws {
            guard DeadlinesResponse.days(within: within) != nil else {
                throw ValidationError("--within takes a number of days from 0 to 3650, such as 30d")
            }
            if ours, owedBy != nil { throw ValidationError("--ours and --owed-by name the same filter; give one") }
        }

        func execute(_ client: AdminClient, json: Bool) async throws {
            var path = "/v1/due?within=\(DeadlinesResponse.days(within: within) ?? 30)" + (overdue ? "&overdue=true" : "")
            if let owner = ours ? "ours" : owedBy {
                path += "&owedBy=\(owner.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? owner)"
            }
            let (response, raw): (DeadlinesResponse, [UInt8]) = try await client.get(path)
            if json { return Output.json(raw) }
            guard !response.deadlines.isEmpty else { return print("nothing due through \(response.through)") }
            Output.table(
                ["DATE", "WHEN", "WHAT", "OWNER", "AGREEMENT", "TITLE"],
                response.deadlines.map { deadline in
                    let when = deadline.daysLeft < 0 ? "\(-deadline.daysLeft) d overdue" : deadline.daysLeft == 0 ? "today" : "in \(deadline.daysLeft) d"
                    let waiting = deadline.state == "claimed" ? " (claimed, to confirm)" : deadline.state == "disputed" ? " (disputed)" : ""
                    let period = deadline.period.map { " for \($0)" } ?? ""
                    let what = deadline.kind == "expiry" ? "agreement expires" : "commitment\(period)\(waiting): \(deadline.description ?? "")"
                    return [deadline.date, when, what, deadline.owner ?? "-", deadline.agreement, deadline.title ?? ""]
                }
            )
        }
    }
}
