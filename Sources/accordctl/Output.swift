import Foundation

/// Plain-text output for people: aligned tables and labelled fields. Text from agreements may
/// hold line breaks and tabs; in a cell or a field they are shown as `⏎` and a space, so one
/// record stays one line and the columns stay aligned.
enum Output {
    /// `text` on one line.
    static func oneLine(_ text: String) -> String {
        guard text.contains(where: { $0.isNewline || $0 == "\t" }) else { return text }
        var line = ""
        for character in text {
            if character.isNewline { line += " ⏎ " } else if character == "\t" { line += " " } else { line.append(character) }
        }
        return line
    }

    static func table(_ headers: [String], _ rows: [[String]]) {
        guard !rows.isEmpty else { return }
        let rows = rows.map { $0.map(oneLine) }
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        print(line(headers))
        for row in rows { print(line(row)) }
    }

    /// `label: value` lines with the values aligned.
    static func fields(_ pairs: [(String, String?)], indent: String = "") {
        let width = pairs.map(\.0.count).max() ?? 0
        for (label, value) in pairs {
            guard let value = value.map(oneLine) else { continue }
            print(indent + (label + ":").padding(toLength: width + 2, withPad: " ", startingAt: 0) + value)
        }
    }

    static func json(_ bytes: [UInt8]) {
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        print(text)
    }

    /// An RFC 3339 time as "2026-11-25 10:45:27" plus how long ago.
    static func when(_ timestamp: String?) -> String {
        guard let timestamp else { return "never" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: timestamp) else { return timestamp }
        let seconds = Int(Date().timeIntervalSince(date))
        // A time ahead (a certificate's expiry) reads "in …", one behind "… ago".
        let span = abs(seconds)
        let amount = span < 120 ? "\(span)s" : span < 7200 ? "\(span / 60)m" : span < 172_800 ? "\(span / 3600)h" : "\(span / 86400)d"
        let relative = span < 1 ? "just now" : seconds < 0 ? "in \(amount)" : "\(amount) ago"
        return "\(timestamp.prefix(19).replacingOccurrences(of: "T", with: " ")) (\(relative))"
    }

    static func short(_ hex: String) -> String { String(hex.prefix(12)) }
}
