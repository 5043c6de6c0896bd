import AccordModel
import AccordStore

/// An agreement's history as people read it: each edit a sentence ("set the due date of “2,000
/// GPU hours per month” to 4 Dec 2026"), commitments named by their description, and changes
/// grouped when the same person made them within a few minutes of each other.
struct HistoryWords {
    /// One group: who, when (the first change's time), and what, in order.
    struct Group {
        let by: String
        let at: UInt64
        let sequences: ClosedRange<Int64>
        var sentences: [String]
    }

    /// Changes by the same maker less than this apart form one group.
    static let groupingMillis: UInt64 = 10 * 60 * 1000

    /// Each commitment's description as the history last set it.
    private let names: [CommitmentID: String]

    init(_ entries: [HistoryEntry]) {
        var names: [CommitmentID: String] = [:]
        for entry in entries {
            for case .set(.commitment(let id, .description), .text(let text)) in entry.change.edits { names[id] = text }
        }
        self.names = names
    }

    /// Newest group first.
    func groups(_ entries: [HistoryEntry], by maker: (HistoryEntry) -> String) -> [Group] {
        var groups: [Group] = []
        for entry in entries {
            let who = maker(entry)
            let at = entry.change.stamp.millis
            let sentences = sentences(entry.change.edits)
            if var last = groups.last, last.by == who, at >= last.at, at - last.at < Self.groupingMillis {
                last.sentences += sentences
                groups[groups.count - 1] = Group(by: who, at: last.at, sequences: last.sequences.lowerBound...entry.sequence, sentences: last.sentences)
            } else {
                groups.append(Group(by: who, at: at, sequences: entry.sequence...entry.sequence, sentences: sentences))
            }
        }
        return groups.reversed()
    }

    /// The edits of one change in words; a new commitment's fields read as one sentence.
    func sentences(_ edits: [Edit]) -> [String] {
        var sentences: [String] = []
        var created: [CommitmentID: [Field.Attribute: FieldValue]] = [:]
        var order: [CommitmentID] = []
        for edit in edits {
            // A commitment opened in this change is described once, with all its fields.
            if case .set(.commitment(let id, let attribute), let value) = edit, edits.contains(.set(.commitment(id, .state), .commitmentState(.open))),
                edits.contains(where: { if case .set(.commitment(id, .description), _) = $0 { true } else { false } })
            {
                if created[id] == nil { order.append(id) }
                created[id, default: [:]][attribute] = value
                continue
            }
            sentences.append(sentence(edit))
        }
        for id in order {
            let fields = created[id] ?? [:]
            let due = fields[.dueDate].map { " due \(plain($0))" } ?? ""
            sentences.append("added the commitment “\(fields[.description].map(plain) ?? "?")” owed by \(fields[.by].map(plain) ?? "nobody")"
                + " (\(fields[.kind].map(plain) ?? "no kind"))\(due)")
        }
        return sentences
    }

    func sentence(_ edit: Edit) -> String {
        switch edit {
        case .set(let field, let value):
            switch field {
            case .title: return "set the title to “\(plain(value))”"
            case .category: return "set the category to \(plain(value))"
            case .framework(let dimension): return "set \(FrameworkNames.label(dimension)) to “\(plain(value))”"
            case .effectiveFrom: return "set the start of the term to \(plain(value))"
            case .expiresOn: return "set the end of the term to \(plain(value))"
            case .noticePeriod: return "set the notice period to \(plain(value))"
            case .commitment(let id, let attribute):
                let name = "“\(names[id] ?? "a commitment")”"
                switch attribute {
                case .by: return "made \(plain(value)) the party owing \(name)"
                case .kind: return "set the kind of \(name) to \(plain(value))"
                case .description: return "described a commitment as “\(plain(value))”"
                case .dueDate: return "set the due date of \(name) to \(plain(value))"
                case .amount: return "set the amount of \(name) to \(plain(value))"
                case .schedule: return "set \(name) to recur \(plain(value))"
                case .state:
                    if case .commitmentState(let state) = value {
                        switch state {
                        case .open: return "reopened \(name)"
                        case .fulfilled: return "marked \(name) fulfilled"
                        case .waived: return "waived \(name)"
                        case .claimed: return "claimed \(name) fulfilled"
                        case .disputed: return "disputed \(name)"
                        }
                    }
                    return "set the state of \(name) to \(plain(value))"
                }
            }
        case .addParty(let organisation): return "added \(organisation) as a party"
        case .withdrawParty(let organisation): return "withdrew \(organisation) from the parties"
        case .removeCommitment(let id): return "removed the commitment “\(names[id] ?? "?")”"
        case .approve(let organisation, _, _): return "approved the terms as \(organisation)"
        case .note(let text): return "noted: “\(text)”"
        case .terminate(let reason): return "terminated the agreement: “\(reason)”"
        case .progress(let id, let period, let step, let text):
            let name = "“\(names[id] ?? "a commitment")”" + (period.map { " for \(ReadableTime.day($0.description))" } ?? "")
            let said = text.isEmpty ? "" : ": “\(text)”"
            switch step {
            case .claim: return "claimed \(name) fulfilled\(said)"
            case .confirm: return "confirmed \(name) fulfilled\(said)"
            case .dispute: return "disputed \(name)\(said)"
            case .waive: return "waived \(name)\(said)"
            }
        case .void(let reason): return "voided the draft: “\(reason)”"
        case .consentToRemoval(let organisation): return "agreed to remove \(organisation) from the parties"
        case .removeParty(let organisation): return "removed \(organisation) from the parties"
        case .agreeTermination(let reason): return "agreed to end the agreement" + (reason.isEmpty ? "" : ": “\(reason)”")
        }
    }

    /// A field as `ConflictView` names it ("commitment[ID].dueDate"), for people: "the due date
    /// of “2,000 GPU hours per month”".
    func field(_ name: String) -> String {
        let terms = [
            "title": "the title", "category": "the category", "term.effectiveFrom": "the start of the term", "term.expiresOn": "the end of the term",
            "term.noticePeriod": "the notice period",
        ]
        if let label = terms[name] { return label }
        if name.hasPrefix("framework."), let dimension = FrameworkDimension.allCases.first(where: { "framework.\($0.name)" == name }) {
            return FrameworkNames.label(dimension)
        }
        let inner = name.dropFirst("commitment[".count)
        guard name.hasPrefix("commitment["), let close = inner.firstIndex(of: "]"), let id = CommitmentID(uuidString: String(inner[..<close])) else {
            return name
        }
        let commitment = "“\(names[id] ?? "a commitment")”"
        switch String(inner[close...].dropFirst(2)) {
        case "by": return "who owes \(commitment)"
        case "kind": return "the kind of \(commitment)"
        case "description": return "the description of \(commitment)"
        case "dueDate": return "the due date of \(commitment)"
        case "state": return "the state of \(commitment)"
        case "amount": return "the amount of \(commitment)"
        case "schedule": return "the schedule of \(commitment)"
        default: return name
        }
    }

    private func plain(_ value: FieldValue) -> String {
        switch value {
        case .text(let text): text
        case .category(let category): category.name
        case .date(let date): date.map { ReadableTime.day($0.description) } ?? "none"
        case .organisation(let organisation): organisation.rawValue
        case .commitmentKind(let kind): kind.name
        case .commitmentState(let state): state.name
        case .amount(let amount): amount.map(Money.readable) ?? "none"
        case .schedule(let schedule): schedule.map(Money.readableSchedule) ?? "none"
        case .days(let days): days.map { "\($0) days" } ?? "none"
        }
    }
}
