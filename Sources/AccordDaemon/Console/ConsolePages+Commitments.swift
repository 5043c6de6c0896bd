import AccordAdminAPI
import AccordModel

/// The commitments on the agreement page: who owes what (with amounts and schedules), where each
/// stands and who moved it there, and the step each side may take (trust rule 6): the party that
/// owes claims fulfilment; a party owed confirms or disputes a claim, or waives. A recurring
/// commitment lists its periods, each stepped on its own.
extension ConsolePages {
    /// - Parameters:
    ///   - canEdit: the terms may be edited (a live agreement, an editor of a party);
    ///   - canStep: steps of fulfilment may be taken — also during a notice and after the end,
    ///     as the rules allow (rule 9).
    static func commitmentsSection(_ page: AgreementPage, _ context: Context, base: String, canEdit: Bool, canStep: Bool) -> HTML {
        let view = page.view
        let rows: [HTML] = view.commitments.map { commitment in
            let overdue = isOverdue(commitment.dueDate, commitment.state, today: page.today)
            let steps = commitment.schedule == nil && canStep ? stepControls(page, commitment, period: nil, state: commitment.state, base: base, context) : ""
            let edit: HTML =
                canEdit
                ? """
                <details><summary>Edit</summary><form method="post"\(HTML.attribute("action", "\(base)/commitments/\(commitment.id)/edit")) class="commitment-form">\
                \(csrfField(context))\(formName("commitment-\(commitment.id)"))\
                \(commitmentFields(page, prefix: "c-\(commitment.id)", commitment: commitment))<button>Save commitment</button>\
                \(fieldError("commitment-\(commitment.id)", context))</form>\
                <form method="post"\(HTML.attribute("action", "\(base)/commitments/\(commitment.id)/remove")) class="inline">\(csrfField(context))\
                <button>Remove</button></form></details>
                """
                : ""
            let state: HTML =
                commitment.schedule.map { schedule in
                    "<span class=\"meta\">\(Money.readableSchedule(Schedule(schedule) ?? placeholderSchedule))</span>\(periodList(page, commitment, base: base, canStep: canStep, context))"
                } ?? "\(overdue ? "overdue" : commitment.state)\(progressWords(commitment.progress))"
            return """
                <tr\(HTML.attribute("data-commitment", commitment.id))\(overdue ? " class=\"overdue\"" as HTML : "")><td>\(commitment.by ?? "—")</td>\
                <td>\(commitment.kind ?? "—")</td><td>\(commitment.description ?? "—")</td>\
                <td>\(commitment.amount.flatMap(readableAmount) ?? "—")\(commitment.schedule == nil || commitment.amount == nil ? "" : " each" as HTML)</td>\
                <td>\(commitment.dueDate.map(ReadableTime.day) ?? "—")</td>\
                <td class="state">\(state)</td><td>\(steps)\(edit)</td></tr>
                """
        }
        let add: HTML =
            canEdit
            ? """
            <details id="add-commitment"\(context.errorField == "commitment-new" ? " open" : "" as HTML)><summary>Add a commitment</summary>\
            <form method="post"\(HTML.attribute("action", "\(base)/commitments")) class="commitment-form">\(csrfField(context))\(formName("commitment-new"))\
            \(commitmentFields(page, prefix: "new", commitment: nil))<button>Add commitment</button>\(fieldError("commitment-new", context))</form></details>
            """
            : ""
        let totals: HTML =
            (view.totals ?? []).isEmpty
            ? ""
            : "<p id=\"totals\">In total: \((view.totals ?? []).map { "\($0.party) owes \(readableAmount("\($0.currency) \($0.amount)") ?? $0.amount)" }.joined(separator: "; ")).</p>"
        return """
            <h2>Commitments</h2>
            <table id="commitments"><thead><tr><th>Owed by</th><th>Kind</th><th>Description</th><th>Amount</th><th>Due</th><th>State</th><th></th></tr></thead>\
            <tbody>\(rows)</tbody></table>
            \(view.commitments.isEmpty ? "<p>None yet.</p>" as HTML : "")
            \(totals)\(add)
            """
    }

    /// "claimed by Alice Chen (acme) via acme/node1 on 8 Dec 2026, 10:00 UTC: “paid”".
    private static func progressWords(_ progress: ProgressView?) -> HTML {
        guard let progress, let by = progress.by, let at = progress.at else { return "" }
        return "<br><span class=\"meta progress\">\(progress.state) by \(by), \(ReadableTime.moment(at))\(progress.text.map { ": “\($0)”" as HTML } ?? "")</span>"
    }

    /// The periods of a recurring commitment, each with its state and the step this side may take.
    private static func periodList(_ page: AgreementPage, _ commitment: CommitmentView, base: String, canStep: Bool, _ context: Context) -> HTML {
        let items: [HTML] = (commitment.periods ?? []).map { period in
            let date = period.period ?? ""
            let overdue = isOverdue(date, period.state, today: page.today)
            let steps = canStep ? stepControls(page, commitment, period: date, state: period.state, base: base, context) : ""
            return """
                <li\(HTML.attribute("data-period", date))\(overdue ? " class=\"overdue\"" as HTML : "")>\(ReadableTime.day(date)): \
                <span class="state">\(overdue ? "overdue" : period.state)</span>\(progressWords(period))\(steps)</li>
                """
        }
        return "<ul class=\"periods\">\(items)</ul>"
    }

    private static func isOverdue(_ due: String?, _ state: String, today: String) -> Bool {
        ["open", "disputed"].contains(state) && (due.map { $0 < today } ?? false)
    }

    /// The steps this organisation may take on a commitment (or period) in `state`: the same
    /// choices the rules allow, so the page offers nothing the node would refuse.
    private static func stepControls(
        _ page: AgreementPage, _ commitment: CommitmentView, period: String?, state: String, base: String, _ context: Context
    ) -> HTML {
        let owes = commitment.by == page.organisation
        var controls: [HTML] = []
        if owes, ["open", "disputed"].contains(state) {
            controls.append(stepForm(base, commitment.id, period, "claim", "Claim fulfilled", text: "Note (optional)", context))
        }
        if !owes, state == "claimed" {
            controls.append(stepForm(base, commitment.id, period, "confirm", "Confirm", text: nil, context))
            controls.append(stepForm(base, commitment.id, period, "dispute", "Dispute", text: "Reason", required: true, context))
        }
        if !owes, !["fulfilled", "waived"].contains(state) {
            controls.append(stepForm(base, commitment.id, period, "waive", "Waive", text: nil, context))
        }
        return "\(controls)"
    }

    private static func stepForm(
        _ base: String, _ id: String, _ period: String?, _ step: String, _ label: String, text: String?, required: Bool = false, _ context: Context
    ) -> HTML {
        let field = "\(step)-\(id)\(period.map { "-\($0)" } ?? "")"
        let input: HTML =
            text.map { placeholder in
                "<input\(HTML.attribute("id", field)) name=\"text\" maxlength=\"4096\"\(required ? " required" as HTML : "")\(HTML.attribute("aria-label", "\(placeholder) for \(label.lowercased())"))\(HTML.attribute("placeholder", placeholder))> "
            } ?? ""
        return """
            <form method="post"\(HTML.attribute("action", "\(base)/commitments/\(id)/\(step)")) class="inline step">\(csrfField(context))\(formName("commitment-\(id)"))\
            \(period.map { "<input type=\"hidden\" name=\"period\"\(HTML.attribute("value", $0))>" as HTML } ?? "")\(input)\
            <button\(HTML.attribute("name", step))>\(label)</button></form>
            """
    }

    /// "EUR 40,000.50" for "EUR 40000.5"; nil for a string that is no amount.
    private static func readableAmount(_ text: String) -> String? { (try? Money.amount(text)).map(Money.readable) }

    private static let placeholderSchedule = Schedule(every: .monthly, from: CalendarDate(year: 2000, month: 1, day: 1)!, until: nil)!

    static func commitmentFields(_ page: AgreementPage?, parties: [String]? = nil, prefix: String, commitment: CommitmentView?) -> HTML {
        let owners = parties ?? page?.view.parties ?? []
        let every = commitment?.schedule?.every ?? "none"
        return """
            <label\(HTML.attribute("for", "\(prefix)-by"))>Owed by</label> <select\(HTML.attribute("id", "\(prefix)-by")) name="by">\
            \(owners.map { "<option\(HTML.attribute("value", $0))\($0 == commitment?.by ? " selected" : "" as HTML)>\($0)</option>" as HTML })</select> \
            <label\(HTML.attribute("for", "\(prefix)-kind"))>Kind</label> <select\(HTML.attribute("id", "\(prefix)-kind")) name="kind">\
            \(CommitmentKind.allCases.map { "<option\(HTML.attribute("value", $0.name))\($0.name == commitment?.kind ? " selected" : "" as HTML)>\($0.name)</option>" as HTML })</select> \
            <label\(HTML.attribute("for", "\(prefix)-description"))>Description</label> \
            <input\(HTML.attribute("id", "\(prefix)-description")) name="description" maxlength="1024"\(HTML.attribute("value", commitment?.description ?? ""))> \
            <label\(HTML.attribute("for", "\(prefix)-due"))>Due</label> \
            <input type="date"\(HTML.attribute("id", "\(prefix)-due")) name="dueDate"\(HTML.attribute("value", commitment?.dueDate ?? ""))> \
            <label\(HTML.attribute("for", "\(prefix)-amount"))>Amount</label> \
            <input\(HTML.attribute("id", "\(prefix)-amount")) name="amount" maxlength="40" placeholder="EUR 40000.00"\(HTML.attribute("value", commitment?.amount ?? ""))> \
            <label\(HTML.attribute("for", "\(prefix)-every"))>Recurs</label> <select\(HTML.attribute("id", "\(prefix)-every")) name="every">\
            \((["none"] + Recurrence.allCases.map(\.name)).map { "<option\(HTML.attribute("value", $0))\($0 == every ? " selected" : "" as HTML)>\($0)</option>" as HTML })</select> \
            <label\(HTML.attribute("for", "\(prefix)-from"))>from</label> \
            <input type="date"\(HTML.attribute("id", "\(prefix)-from")) name="from"\(HTML.attribute("value", commitment?.schedule?.from ?? ""))> \
            <label\(HTML.attribute("for", "\(prefix)-until"))>until</label> \
            <input type="date"\(HTML.attribute("id", "\(prefix)-until")) name="until"\(HTML.attribute("value", commitment?.schedule?.until ?? ""))> 
            """
    }
}

extension Schedule {
    /// The schedule a view describes; nil if it does not describe one.
    init?(_ view: ScheduleView) {
        guard let every = Recurrence(name: view.every), let from = CalendarDate(iso8601: view.from) else { return nil }
        self.init(every: every, from: from, until: view.until.flatMap(CalendarDate.init(iso8601:)))
    }
}
