import Foundation

/// Agreements as CSV (RFC 4180: comma-separated, fields with a comma, quote or line break in
/// double quotes, quotes doubled), one agreement per row, for spreadsheets:
///
///     reference,title,category,parties,effective_from,expires_on,value_alignment,technical_fit,
///     service_coverage,data_protection,return_mechanism,notice_period,commitment_1_by,commitment_1_kind,
///     commitment_1_description,commitment_1_due,commitment_1_amount,commitment_1_every,
///     commitment_1_from,commitment_1_until,commitment_2_by,...
///
/// `parties` are separated by `;`. Commitments take eight columns each, as many as the widest row
/// needs; empty ones are skipped; a file of the four columns of earlier versions reads as before. Columns may come in any order; unknown ones are an error (a
/// typo in a header must not drop a column silently).
public enum AgreementCSV {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        /// 1-based line of the file.
        public let line: Int
        public let field: String?
        public let message: String

        public init(line: Int, field: String?, message: String) {
            self.line = line
            self.field = field
            self.message = message
        }

        public var description: String { "line \(line)" + (field.map { ", \($0)" } ?? "") + ": \(message)" }
    }

    /// Every failure of a file, in the order of its lines: one run reports them all.
    public struct Failures: Error, CustomStringConvertible, Equatable {
        public let failures: [Failure]

        public init(_ failures: [Failure]) { self.failures = failures }

        public var description: String { failures.map(\.description).joined(separator: "\n") }
    }

    static let frameworkColumns: [(column: String, dimension: String)] = [
        ("value_alignment", "valueAlignment"), ("technical_fit", "technicalFit"), ("service_coverage", "serviceCoverage"),
        ("data_protection", "dataProtection"), ("return_mechanism", "returnMechanism"),
    ]
    static let fixedColumns = ["reference", "title", "category", "parties", "effective_from", "expires_on"] + frameworkColumns.map(\.column)
        + ["notice_period"]
    static let commitmentAttributes = ["by", "kind", "description", "due", "amount", "every", "from", "until"]

    // MARK: - Reading

    /// The records of a CSV text, each with its line number. Every error names the line and
    /// column, and all of them are reported at once: a header that cannot be read stops the
    /// reading, a bad row does not.
    public static func parse(_ text: String) throws(Failures) -> [(line: Int, record: AgreementRecord)] {
        var failures: [Failure] = []
        let rows = Self.rows(text, failures: &failures)
        var records: [(line: Int, record: AgreementRecord)] = []
        do {
            records = try Self.records(rows, failures: &failures)
        } catch {
            failures.append(error)
        }
        guard failures.isEmpty else { throw Failures(failures.sorted { $0.line < $1.line }) }
        return records
    }

    /// The records of `rows`; a failure of the header is thrown, a failure of a row is added to
    /// `failures` and the row skipped.
    private static func records(
        _ rows: [(line: Int, fields: [String])], failures: inout [Failure]
    ) throws(Failure) -> [(line: Int, record: AgreementRecord)] {
        guard let header = rows.first else { return [] }
        var columns: [String: Int] = [:]
        for (index, name) in header.fields.enumerated() {
            let name = name.trimmingCharacters(in: .whitespaces)
            guard fixedColumns.contains(name) || commitmentColumn(name) != nil else {
                throw Failure(line: header.line, field: name, message: "unknown column; columns: \(fixedColumns.joined(separator: ", ")), commitment_N_\(commitmentAttributes.joined(separator: "|"))")
            }
            guard columns.updateValue(index, forKey: name) == nil else { throw Failure(line: header.line, field: name, message: "column given twice") }
        }
        for required in ["title", "category", "parties"] where columns[required] == nil {
            throw Failure(line: header.line, field: required, message: "the header lacks this column")
        }
        let commitmentCount = columns.keys.compactMap { commitmentColumn($0)?.number }.max() ?? 0
        var records: [(Int, AgreementRecord)] = []
        for row in rows.dropFirst() where !row.fields.allSatisfy(\.isEmpty) {
            do {
                records.append(try record(row, header: header.fields.count, columns: columns, commitmentCount: commitmentCount))
            } catch {
                failures.append(error)
            }
        }
        return records
    }

    private static func record(
        _ row: (line: Int, fields: [String]), header: Int, columns: [String: Int], commitmentCount: Int
    ) throws(Failure) -> (Int, AgreementRecord) {
        // A short row would silently leave its last columns empty; a long one has a stray comma.
        guard row.fields.count == header else {
            throw Failure(line: row.line, field: nil, message: "\(row.fields.count) fields, but the header has \(header)")
        }
        func value(_ column: String) -> String? {
            guard let index = columns[column], index < row.fields.count else { return nil }
            let text = row.fields[index]
            return text.isEmpty ? nil : text
        }
        var framework: [String: String] = [:]
        for (column, dimension) in frameworkColumns { framework[dimension] = value(column) }
        var commitments: [AgreementRecord.Commitment] = []
        for number in stride(from: 1, through: commitmentCount, by: 1) {
            let prefix = "commitment_\(number)_"
            let parts = commitmentAttributes.map { value(prefix + $0) }
            if parts.allSatisfy({ $0 == nil }) { continue }
            for (attribute, part) in zip(commitmentAttributes.prefix(3), parts) where part == nil {
                throw Failure(line: row.line, field: prefix + attribute, message: "a commitment needs by, kind and description")
            }
            commitments.append(.init(
                by: parts[0]!, kind: parts[1]!, description: parts[2]!, dueDate: parts[3], amount: parts[4], every: parts[5], from: parts[6], until: parts[7]
            ))
        }
        for required in ["title", "category", "parties"] where value(required) == nil {
            throw Failure(line: row.line, field: required, message: "is empty")
        }
        var record = AgreementRecord(
            reference: value("reference"), title: value("title")!, category: value("category")!,
            parties: value("parties")!.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            effectiveFrom: value("effective_from"), expiresOn: value("expires_on"),
            framework: framework.isEmpty ? nil : framework, commitments: commitments.isEmpty ? nil : commitments
        )
        if let notice = value("notice_period") {
            guard let days = Int(notice) else { throw Failure(line: row.line, field: "notice_period", message: "\"\(notice)\" is not a number of days") }
            record.noticePeriod = days
        }
        return (row.line, record)
    }

    private static func commitmentColumn(_ name: String) -> (number: Int, attribute: String)? {
        let parts = name.split(separator: "_")
        guard parts.count == 3, parts[0] == "commitment", let number = Int(parts[1]), number >= 1, number <= 100,
            commitmentAttributes.contains(String(parts[2]))
        else { return nil }
        return (number, String(parts[2]))
    }

    /// RFC 4180 rows, each with the line it starts on. A stray quote is reported in `failures`
    /// and read as text, so that the rest of the file is still checked.
    static func rows(_ text: String, failures: inout [Failure]) -> [(line: Int, fields: [String])] {
        var rows: [(Int, [String])] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var afterQuote = false
        var line = 1
        var rowLine = 1
        var characters = text.makeIterator()
        var pending: Character? = characters.next()
        while let character = pending {
            pending = characters.next()
            if quoted {
                if character == "\"" {
                    if pending == "\"" {
                        field.append("\"")
                        pending = characters.next()
                    } else {
                        quoted = false
                        afterQuote = true
                    }
                } else {
                    if character == "\n" || character == "\r\n" { line += 1 }
                    field.append(character)
                }
                continue
            }
            switch character {
            case "\"":
                guard field.isEmpty, !afterQuote else {
                    failures.append(Failure(line: line, field: nil, message: "a quote inside an unquoted field"))
                    field.append(character)
                    continue
                }
                quoted = true
            case ",":
                fields.append(field)
                (field, afterQuote) = ("", false)
            case "\n", "\r\n", "\r":
                fields.append(field)
                rows.append((rowLine, fields))
                (fields, field, afterQuote) = ([], "", false)
                line += 1
                rowLine = line
            default:
                if afterQuote {
                    failures.append(Failure(line: line, field: nil, message: "text after a closing quote"))
                    afterQuote = false
                }
                field.append(character)
            }
        }
        if quoted {
            failures.append(Failure(line: rowLine, field: nil, message: "a quoted field is not closed"))
            return rows
        }
        if !field.isEmpty || !fields.isEmpty {
            fields.append(field)
            rows.append((rowLine, fields))
        }
        return rows
    }

    // MARK: - Writing

    public static func render(_ records: [AgreementRecord]) -> String {
        let commitmentCount = records.map { $0.commitments?.count ?? 0 }.max() ?? 0
        var header = fixedColumns
        for number in stride(from: 1, through: commitmentCount, by: 1) { header += commitmentAttributes.map { "commitment_\(number)_\($0)" } }
        var lines = [header.joined(separator: ",")]
        for record in records {
            var row = [
                record.reference ?? "", record.title, record.category, record.parties.joined(separator: ";"),
                record.effectiveFrom ?? "", record.expiresOn ?? "",
            ]
            row += frameworkColumns.map { record.framework?[$0.dimension] ?? "" }
            row.append(record.noticePeriod.map(String.init) ?? "")
            for number in 0..<commitmentCount {
                let commitment = (record.commitments ?? []).dropFirst(number).first
                row += [commitment?.by, commitment?.kind, commitment?.description, commitment?.dueDate, commitment?.amount, commitment?.every,
                        commitment?.from, commitment?.until].map { $0 ?? "" }
            }
            lines.append(row.map(quote).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return field }
        return "\"" + field.replacing("\"", with: "\"\"") + "\""
    }
}
