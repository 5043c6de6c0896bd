/// Text that is safe to put in an HTML page. Everything that comes from an agreement, a peer or
/// a request reaches a page only through `HTML.text` (escaped) or `HTML.attribute` (escaped
/// and quoted): the pages have no other way to take a string, so an agreement titled
/// `<script>…` is shown as those characters and never run.
struct HTML: Sendable, CustomStringConvertible {
    private(set) var markup: String

    /// Markup written in this source file; never build one from data.
    init(trusted markup: String) { self.markup = markup }

    static func text(_ value: String?) -> HTML { HTML(trusted: escape(value ?? "")) }

    /// `name="value"`, escaped.
    static func attribute(_ name: String, _ value: String) -> HTML { HTML(trusted: " \(name)=\"\(escape(value))\"") }

    var description: String { markup }

    static func + (lhs: HTML, rhs: HTML) -> HTML { HTML(trusted: lhs.markup + rhs.markup) }

    static func += (lhs: inout HTML, rhs: HTML) { lhs.markup += rhs.markup }

    static func escape(_ value: String) -> String {
        // Most text holds nothing to escape: it is returned as it is, without a copy.
        guard value.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) else { return value }
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }
}

extension HTML: ExpressibleByStringInterpolation {
    /// Literal parts are trusted markup; interpolated strings are escaped, interpolated `HTML`
    /// is inserted as it is. `"<td>\(title)</td>"` is therefore safe whatever `title` holds.
    struct StringInterpolation: StringInterpolationProtocol {
        var markup = ""
        init(literalCapacity: Int, interpolationCount: Int) { markup.reserveCapacity(literalCapacity) }
        mutating func appendLiteral(_ literal: String) { markup += literal }
        mutating func appendInterpolation(_ value: String?) { markup += HTML.escape(value ?? "") }
        mutating func appendInterpolation(_ value: Int) { markup += String(value) }
        mutating func appendInterpolation(_ value: HTML) { markup += value.markup }
        mutating func appendInterpolation(_ values: [HTML]) { markup += values.map(\.markup).joined() }
    }

    init(stringLiteral value: String) { markup = value }
    init(stringInterpolation: StringInterpolation) { markup = stringInterpolation.markup }
}
