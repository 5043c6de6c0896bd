import AccordAdminAPI
import AccordModel
import Foundation

/// The business overview — what waits on us, what we owe, what is owed to us, what expires, what
/// partners changed — and the list of agreements it links to, with the views, sorting and
/// filters people work with.
extension ConsolePages {
    /// The lists the overview links to, each a filter over the agreements this organisation is in.
    enum View: String, CaseIterable {
        case waitingOnUs = "waiting-on-us"
        case waitingOnPartners = "waiting-on-partners"
        case weOwe = "we-owe"
        case owedToUs = "owed-to-us"
        case expiring
        case recentByPartners = "recent-by-partners"

        var title: String {
            switch self {
            case .waitingOnUs: "Waiting for our approval"
            case .waitingOnPartners: "Approved by us, waiting for partners"
            case .weOwe: "Our open commitments"
            case .owedToUs: "Partners' open commitments to us"
            case .expiring: "Expiring within 30 days"
            case .recentByPartners: "Recently changed by partners"
            }
        }

        /// Whether `item` belongs in this view for `us` on `today` (`YYYY-MM-DD`).
        func matches(_ item: AgreementListItem, us: String, today: String) -> Bool {
            let live = item.status != "terminated" && item.status != "expired"
            let approvals = item.approvals ?? [:]
            switch self {
            case .waitingOnUs: return live && item.parties.contains(us) && approvals[us] != "approved"
            case .waitingOnPartners:
                return live && approvals[us] == "approved" && item.parties.contains { $0 != us && approvals[$0] != "approved" }
            case .weOwe: return (item.owing ?? []).contains(us)
            case .owedToUs: return item.parties.contains(us) && (item.owing ?? []).contains { $0 != us }
            case .expiring:
                guard live, let end = item.expiresOn, let limit = ReadableTime.adding(days: 30, to: today) else { return false }
                return end >= today && end <= limit
            case .recentByPartners: return item.lastChangeBy.map { $0 != us } ?? false
            }
        }
    }

    enum Sort: String, CaseIterable {
        case title, status, start, end, due, lastChange = "last-change"

        var label: String {
            switch self {
            case .title: "title"
            case .status: "status"
            case .start: "start"
            case .end: "end"
            case .due: "next due date"
            case .lastChange: "last change"
            }
        }

        /// `items` in this order: names and dates ascending (no date last), the last change
        /// newest first; ties by title, then id, so the order is stable. Each item's key is made
        /// once and indices are sorted, not the items (a list holds every agreement of the node).
        func sorted(_ items: [AgreementListItem]) -> [AgreementListItem] {
            let keys = items.map { item in (key: key(item), title: (item.title ?? "").lowercased(), id: item.id) }
            let newestFirst = self == .lastChange
            let order = keys.indices.sorted { a, b in
                let (lhs, rhs) = (keys[a], keys[b])
                if lhs.key != rhs.key {
                    guard let left = lhs.key else { return false }
                    guard let right = rhs.key else { return true }
                    return newestFirst ? left > right : left < right
                }
                return (lhs.title, lhs.id) < (rhs.title, rhs.id)
            }
            return order.map { items[$0] }
        }

        private func key(_ item: AgreementListItem) -> String? {
            switch self {
            case .title: (item.title ?? "").lowercased()
            case .status: item.status
            case .start: item.effectiveFrom
            case .end: item.expiresOn
            case .due: item.nextDue
            case .lastChange: item.lastChange
            }
        }
    }

    struct ListFilter {
        var party = ""
        var status = ""
        var category = ""
        var search = ""
        var view: View?
        var sort = Sort.title
        /// 1-based; each page shows `pageSize` rows, so a node with 100,000 agreements still
        /// answers with a page of bounded size.
        var page = 1
        static let pageSize = 100

        /// The query of this filter on another page, or sorted another way: every filter kept.
        func query(page: Int, sort: Sort? = nil) -> String {
            var components = URLComponents()
            // The order the view opens in is left out, so the same list has one link.
            let order = sort ?? self.sort
            components.queryItems = [
                ("q", search), ("party", party), ("status", status), ("category", category), ("view", view?.rawValue ?? ""),
                ("sort", order == (view?.defaultSort ?? .title) ? "" : order.rawValue),
            ].filter { !$0.1.isEmpty }.map { URLQueryItem(name: $0.0, value: $0.1) } + [URLQueryItem(name: "page", value: "\(page)")]
            return "/agreements?" + (components.percentEncodedQuery ?? "").replacing("+", with: "%2B")
        }

        func matches(_ item: AgreementListItem, us: String, today: String) -> Bool {
            (category.isEmpty || item.category == category)
                && (search.isEmpty || (item.title ?? "").lowercased().contains(search.lowercased())
                    || item.reference?.lowercased() == search.lowercased())
                && (view?.matches(item, us: us, today: today) ?? true)
        }
    }

    // MARK: - Overview

    /// What the overview shows: the agreements this node holds and the deadlines of 30 days.
    struct Overview {
        let organisation: String
        let agreements: [AgreementListItem]
        let deadlines: [DeadlinesResponse.Deadline]
        let today: String
    }

    static func overview(_ overview: Overview, _ context: Context) -> HTML {
        let us = overview.organisation
        func section(_ view: View, _ rows: [HTML], empty: String) -> HTML {
            """
            <section\(HTML.attribute("id", view.rawValue)) class="card"><h2><a\(HTML.attribute("href", ListFilter(view: view, sort: view.defaultSort).query(page: 1)))>\(view.title)</a> \
            <span class="count">\(rows.count)</span></h2>\
            \(rows.isEmpty ? "<p class=\"hint\">\(empty)</p>" as HTML : "<ul>\(Array(rows.prefix(8)))</ul>\(rows.count > 8 ? "<p><a\(HTML.attribute("href", ListFilter(view: view).query(page: 1)))>all \(rows.count)</a></p>" as HTML : "")")</section>
            """
        }
        func agreementLink(_ item: AgreementListItem, _ detail: String) -> HTML {
            "<li><a\(HTML.attribute("href", "/agreements/\(item.id)"))>\(item.title ?? "(untitled)")</a> <span class=\"meta\">\(detail)</span></li>"
        }
        let byView = { (view: View) in overview.agreements.filter { view.matches($0, us: us, today: overview.today) } }
        let waiting = byView(.waitingOnUs).map { agreementLink($0, approvalSummary($0)) }
        let partners = byView(.waitingOnPartners).map { agreementLink($0, approvalSummary($0)) }
        func deadline(_ deadline: DeadlinesResponse.Deadline) -> HTML {
            let when: HTML = deadline.overdue ? "<span class=\"bad\">overdue since \(ReadableTime.day(deadline.date))</span>" : "due \(ReadableTime.day(deadline.date))"
            return """
                <li\(deadline.overdue ? " class=\"overdue\"" as HTML : "")><a\(HTML.attribute("href", "/agreements/\(deadline.agreement)"))>\(deadline.description ?? deadline.title ?? "a commitment")</a> \
                <span class="meta">\(deadline.owner ?? "") · \(deadline.title ?? "") · \(when)</span></li>
                """
        }
        let commitments = overview.deadlines.filter { $0.kind == "commitment" }
        let ours = commitments.filter { $0.owner == us }.map(deadline)
        let theirs = commitments.filter { $0.owner != us }.map(deadline)
        let expiring = overview.deadlines.filter { $0.kind == "expiry" && !$0.overdue }.map { item -> HTML in
            "<li><a\(HTML.attribute("href", "/agreements/\(item.agreement)"))>\(item.title ?? "(untitled)")</a> <span class=\"meta\">ends \(ReadableTime.day(item.date))</span></li>"
        }
        let recent = Sort.lastChange.sorted(byView(.recentByPartners)).map {
            agreementLink($0, "changed by \($0.lastChangeBy ?? "?") \(ReadableTime.moment($0.lastChange ?? ""))")
        }
        return layout("Overview", context, events: "/events", """
            <h1>\(us): agreements at a glance</h1>
            <p><a class="button" href="/agreements/new" id="new-agreement-link">New agreement</a></p>
            <div class="cards">
            \(section(.waitingOnUs, waiting, empty: "Nothing waits for our approval."))
            \(section(.waitingOnPartners, partners, empty: "No approval of ours waits on a partner."))
            \(section(.weOwe, ours, empty: "We owe nothing due within 30 days."))
            \(section(.owedToUs, theirs, empty: "Partners owe us nothing due within 30 days."))
            \(section(.expiring, expiring, empty: "No agreement ends within 30 days."))
            \(section(.recentByPartners, recent, empty: "Partners changed nothing yet."))
            </div>
            """)
    }

    /// "acme approved · globex not yet".
    static func approvalSummary(_ item: AgreementListItem) -> String {
        item.parties.map { party in
            switch item.approvals?[party] {
            case "approved": "\(party) approved"
            case "stale": "\(party) approved earlier terms"
            default: "\(party) not yet"
            }
        }.joined(separator: " · ")
    }

    // MARK: - The list

    static func agreements(_ allItems: [AgreementListItem], _ filter: ListFilter, organisation: String, _ context: Context) -> HTML {
        let pages = max(1, (allItems.count + ListFilter.pageSize - 1) / ListFilter.pageSize)
        let page = min(max(1, filter.page), pages)
        let items = allItems.dropFirst((page - 1) * ListFilter.pageSize).prefix(ListFilter.pageSize)
        let pager: HTML =
            pages == 1
            ? ""
            : """
            <p class="pager">\(page > 1 ? "<a\(HTML.attribute("href", filter.query(page: page - 1))) rel=\"prev\">previous</a> " as HTML : "")\
            page \(page) of \(pages) (\(allItems.count) agreements)\
            \(page < pages ? " <a\(HTML.attribute("href", filter.query(page: page + 1))) rel=\"next\">next</a>" as HTML : "")</p>
            """
        func options(_ values: [(String, String)], _ selected: String) -> HTML {
            values.map { value, label -> HTML in
                "<option\(HTML.attribute("value", value))\(value == selected ? " selected" : "" as HTML)>\(label)</option>"
            }.reduce("" as HTML, +)
        }
        let any = [("", "any")]
        let headers: [HTML] = [("Title", Sort.title), ("Parties", nil), ("Status", Sort.status), ("Term", Sort.start), ("Next due", Sort.due), ("Last change", Sort.lastChange)]
            .map { label, sort in
                guard let sort else { return "<th scope=\"col\">\(label)</th>" }
                let current = filter.sort == sort
                return "<th scope=\"col\"\(current ? " aria-sort=\"\(sort == .lastChange ? "descending" : "ascending")\"" as HTML : "")><a\(HTML.attribute("href", filter.query(page: 1, sort: sort)))>\(label)</a></th>"
            }
        let rows: [HTML] = items.map { item in
            let parties: [HTML] = item.parties.map { party in
                let state = item.approvals?[party] ?? "none"
                let mark = state == "approved" ? "approved" : state == "stale" ? "approved earlier terms" : "not yet"
                return "<span\(HTML.attribute("class", "party \(state)"))\(HTML.attribute("title", "\(party): \(mark)"))>\(party) <span class=\"meta\">(\(mark))</span></span>"
            }
            let term = "\(item.effectiveFrom.map(ReadableTime.day) ?? "open") – \(item.expiresOn.map(ReadableTime.day) ?? "open-ended")"
            let due: HTML = item.nextDue.map { "\(ReadableTime.day($0)) <span class=\"meta\">(\(item.nextDueBy ?? "?"))</span>" as HTML } ?? "—"
            return """
                <tr><td><a\(HTML.attribute("href", "/agreements/\(item.id)"))>\(item.title ?? "(untitled)")</a>\
                <br><span class="meta">\(item.reference.map { "\($0) · " } ?? "")\(item.category ?? "no category") · <code>\(String(item.id.prefix(8)))</code></span></td>\
                <td>\(parties.reduce("" as HTML) { $0.description.isEmpty ? $1 : $0 + "<br>" + $1 })</td>\
                <td><span class="status \(item.status)">\(item.status)</span>\(item.conflicts > 0 ? " <span class=\"bad\">\(item.conflicts) conflict(s)</span>" as HTML : "")</td>\
                <td>\(term)</td><td>\(due)</td>\
                <td>\(item.lastChange.map(ReadableTime.moment) ?? "—")\(item.lastChangeBy.map { " <span class=\"meta\">(\($0))</span>" as HTML } ?? "")</td></tr>
                """
        }
        return layout(filter.view?.title ?? "Agreements", context, events: "/events", """
            <h1>\(filter.view?.title ?? "Agreements")</h1>
            <p><a class="button" href="/agreements/new">New agreement</a></p>
            <form method="get" action="/agreements" class="filters">
            <label>Title or reference <input name="q"\(HTML.attribute("value", filter.search))></label>
            <label>Party <input name="party"\(HTML.attribute("value", filter.party))></label>
            <label>Status <select name="status">\(options(any + ["draft", "proposed", "active", "expired", "terminated"].map { ($0, $0) }, filter.status))</select></label>
            <label>Category <select name="category">\(options(any + ["technicalResources", "fullSupport", "financialSupport"].map { ($0, $0) }, filter.category))</select></label>
            <label>Show <select name="view">\(options([("", "all")] + View.allCases.map { ($0.rawValue, $0.title) }, filter.view?.rawValue ?? ""))</select></label>
            <label>Sort by <select name="sort">\(options(Sort.allCases.map { ($0.rawValue, $0.label) }, filter.sort.rawValue))</select></label>
            <button>Show</button></form>
            <table id="agreements"><thead><tr>\(headers)</tr></thead>
            <tbody>\(rows)</tbody></table>
            \(pager)
            \(items.isEmpty ? "<p>No agreement matches.</p>" as HTML : "")
            """)
    }
}

extension ConsolePages.View {
    /// The order its list opens in.
    var defaultSort: ConsolePages.Sort {
        switch self {
        case .weOwe, .owedToUs: .due
        case .expiring: .end
        case .recentByPartners: .lastChange
        case .waitingOnUs, .waitingOnPartners: .title
        }
    }
}

extension ReadableTime {
    /// `date` (`YYYY-MM-DD`) plus `days`, as `YYYY-MM-DD`; nil if it is no date.
    static func adding(days: Int, to date: String) -> String? {
        CalendarDate(iso8601: date).map { CalendarDate(unixMillis: UInt64(DeadlineCalendar.unixDay($0) + days) * 86_400_000).description }
    }
}
