import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore

/// The readable files of an evidence bundle — `history.txt`, each `terms.txt`, the proved part of
/// `status.txt` — written from the model here and written again by `verify.sh` from the signed
/// bytes alone (its decoder, `EvidenceScript.decoder`, follows docs/encoding.md). The two must
/// agree byte for byte: a reader of a readable file that `verify.sh` accepted reads exactly what
/// was signed. So the rules are few and shared: text in double quotes with `"`, `\`, line breaks,
/// tabs and other control bytes escaped (`\"`, `\\`, `\n`, `\r`, `\t`, `\xNN`), every other byte as
/// it is; times as RFC 3339 UTC with milliseconds; absent values as `(none)`.
enum EvidenceText {
    // MARK: - Values

    /// `text` with the bytes a reader could misread escaped.
    static func plain(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes += Array(#"\""#.utf8)
            case UInt8(ascii: "\\"): bytes += Array(#"\\"#.utf8)
            case 10: bytes += Array(#"\n"#.utf8)
            case 13: bytes += Array(#"\r"#.utf8)
            case 9: bytes += Array(#"\t"#.utf8)
            case 0..<32, 127: bytes += Array(#"\x"#.utf8) + hexByte(byte)
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexByte(_ byte: UInt8) -> [UInt8] { [HexEncoding.digit(byte >> 4), HexEncoding.digit(byte & 0x0f)] }

    static func quoted(_ text: String) -> String { "\"" + plain(text) + "\"" }

    static func time(_ millis: UInt64) -> String { AdminAPI.timestamp(millis: millis) }

    static func optional<Value>(_ value: Value?, _ render: (Value) -> String) -> String { value.map(render) ?? "(none)" }

    static func date(_ date: CalendarDate) -> String {
        func digits(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(digits(date.year, 4))-\(digits(date.month, 2))-\(digits(date.day, 2))"
    }

    static func node(_ node: NodeID) -> String { plain(node.organisation.rawValue) + "/" + plain(node.name) }

    static func value(_ value: FieldValue) -> String {
        switch value {
        case .text(let text): quoted(text)
        case .category(let category): category.name
        case .date(let date): optional(date, Self.date)
        case .organisation(let organisation): plain(organisation.rawValue)
        case .commitmentKind(let kind): kind.name
        case .commitmentState(let state): state.name
        case .amount(let amount): optional(amount) { $0.description }
        case .schedule(let schedule): optional(schedule, Self.schedule)
        case .days(let days): optional(days) { "\($0) days" }
        }
    }

    static func schedule(_ schedule: Schedule) -> String {
        "\(schedule.every.name) from \(date(schedule.from)) until \(optional(schedule.until, date))"
    }

    // MARK: - Files

    /// One change of `history.txt`: a header and an indented line per edit.
    static func change(_ entry: HistoryEntry) -> String {
        let change = entry.change
        var lines = [
            "change \(entry.sequence) by \(node(change.author)), stamped \(time(change.stamp.millis)) (counter \(change.stamp.counter)), id \(change.id.hex)"
        ]
        for edit in change.edits {
            let text: String =
                switch edit {
                case .set(let field, let value): "set \(field.description) = \(Self.value(value))"
                case .addParty(let organisation): "add party \(plain(organisation.rawValue))"
                case .withdrawParty(let organisation): "withdraw party \(plain(organisation.rawValue))"
                case .removeCommitment(let id): "remove commitment \(id)"
                case .approve(let organisation, let termsHash, _): "approve as \(plain(organisation.rawValue)) the terms \(termsHash.hex)"
                case .note(let text): "note \(quoted(text))"
                case .terminate(let reason): "terminate, reason \(quoted(reason))"
                case .progress(let id, let period, let step, let text):
                    "\(step.name) commitment \(id) for period \(optional(period, date)), saying \(quoted(text))"
                case .void(let reason): "void, reason \(quoted(reason))"
                case .consentToRemoval(let organisation): "consent to removing party \(plain(organisation.rawValue))"
                case .removeParty(let organisation): "remove party \(plain(organisation.rawValue))"
                case .agreeTermination(let reason): "agree to the termination, reason \(quoted(reason))"
                }
            lines.append("  " + text)
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// A `terms.txt`: the terms in the order of their canonical encoding.
    static func terms(_ terms: Terms) -> String {
        var lines = [
            "agreement: \(terms.agreement)", "title: \(optional(terms.title, quoted))", "category: \(optional(terms.category) { $0.name })",
            "parties: \(terms.parties.map { plain($0.rawValue) }.joined(separator: ", "))",
        ]
        for dimension in FrameworkDimension.allCases {
            lines.append("framework \(dimension.name): \(optional(terms.framework[dimension], quoted))")
        }
        for commitment in terms.commitments {
            lines.append(
                "commitment \(commitment.id): by \(optional(commitment.by) { plain($0.rawValue) }), kind \(optional(commitment.kind) { $0.name }), "
                    + "due \(optional(commitment.dueDate, date))"
                    + (terms.encodingVersion >= 2
                        ? ", amount \(optional(commitment.amount) { $0.description }), recurring \(optional(commitment.schedule, schedule))" : "")
                    + ": \(optional(commitment.description, quoted))"
            )
        }
        lines += [
            "effective from: \(optional(terms.effectiveFrom, date))", "expires on: \(optional(terms.expiresOn, date))",
        ]
        if terms.encodingVersion >= 2 { lines.append("notice period: \(optional(terms.noticeDays) { "\($0) days" })") }
        lines += [
            "terms hash (SHA-256 of the canonical terms above): \(terms.hash.hex)",
        ]
        return lines.map { $0 + "\n" }.joined()
    }
}

extension EvidenceText {
    /// An approval in the bundle: `approvals/N` and the change that carried it.
    struct ApprovalRecord {
        let number: Int
        let organisation: OrganisationID
        let entry: HistoryEntry
        let termsHash: SHA256Digest
    }

    static let provedMarker = "--- proved by verify.sh from the signed bytes (it writes these lines again and fails if they differ) ---"
    static let statedMarker = "--- stated by the exporting node, which verify.sh cannot prove ---"

    /// What `verify.sh` proves of the agreement's state: the current terms, each party's first
    /// approval of exactly those terms, and the termination that counts (the earliest by stamp,
    /// then author and change id, as docs/merge-rules.md has it), all from the bundle's changes.
    static func proved(current: Terms, approvals: [ApprovalRecord], history: [HistoryEntry]) -> String {
        var lines = [
            "current terms: \(current.hash.hex) (current/terms.txt)",
            "parties: \(current.parties.map { plain($0.rawValue) }.joined(separator: ", "))",
        ]
        for party in current.parties {
            if let approval = approvals.first(where: { $0.organisation == party && $0.termsHash == current.hash }) {
                lines.append(
                    "approval by \(plain(party.rawValue)): approvals/\(approval.number), signed by \(node(approval.entry.change.author)), "
                        + "stamped \(time(approval.entry.change.stamp.millis)), in change \(approval.entry.sequence)"
                )
            } else {
                lines.append("approval by \(plain(party.rawValue)): none of these terms")
            }
        }
        let terminations = history.flatMap { entry in
            entry.change.edits.compactMap { edit -> (HistoryEntry, String)? in
                if case .terminate(let reason) = edit { return (entry, reason) }
                return nil
            }
        }
        func key(_ entry: HistoryEntry) -> (UInt64, UInt32, [UInt8], [UInt8], String) {
            let stamp = entry.change.stamp
            return (stamp.millis, stamp.counter, Array(plain(stamp.node.organisation.rawValue).utf8), Array(plain(stamp.node.name).utf8), entry.change.id.hex)
        }
        let first = terminations.min { lhs, rhs in
            let (a, b) = (key(lhs.0), key(rhs.0))
            if a.0 != b.0 { return a.0 < b.0 }
            if a.1 != b.1 { return a.1 < b.1 }
            if a.2 != b.2 { return a.2.lexicographicallyPrecedes(b.2) }
            if a.3 != b.3 { return a.3.lexicographicallyPrecedes(b.3) }
            return a.4 < b.4
        }
        if let (entry, reason) = first {
            lines.append(
                "termination: by \(node(entry.change.author)), stamped \(time(entry.change.stamp.millis)), in change \(entry.sequence), reason \(quoted(reason))"
            )
        } else {
            lines.append("termination: none among the changes in this bundle")
        }
        return lines.map { $0 + "\n" }.joined()
    }

    /// `status.txt`: the proved part between its markers, then what only the exporting node says.
    static func status(
        agreement: AgreementID, exportedBy: NodeID, exportedAt: UInt64, status: AgreementStatus, proved: String
    ) -> String {
        """
        Evidence of agreement \(agreement), exported by \(node(exportedBy)) at \(time(exportedAt)).
        \(provedMarker)
        \(proved)\(statedMarker)
        - that the changes in changes/ are every change of this agreement \(node(exportedBy)) held at export;
        - that current/terms are the terms those changes merge to (docs/merge-rules.md);
        - that the agreement's status there was \(status.rawValue).

        """
    }
}
