/// Inputs on which toml++ (under TOMLKit) aborts the process on an assertion — in release builds
/// too — instead of reporting an error. Each was found by accord-fuzz (docs/reliability.md) and
/// is refused here first, with its line, so that a typo is a configuration error and not a
/// crash. Every input refused here is invalid TOML anyway.
enum TOMLParserTraps {
    static func check(_ text: String, file: String) throws(ConfigurationError) {
        try checkHeaders(text, file: file)
        try checkBraceWhereValueBelongs(text, file: file)
    }

    /// A table header whose key starts with a character that cannot start a key (`[;`, or `[` at
    /// the end of a line), and U+FFFD anywhere.
    static func checkHeaders(_ text: String, file: String) throws(ConfigurationError) {
        // Bytes, not Characters: a combining mark after '[' makes one grapheme of both ("[̀"),
        // which toml++, reading code points, still sees as a header.
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        func startsKey(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""), UInt8(ascii: "'"):
                true
            default: false
            }
        }
        // Every line that starts with "[" is checked, also inside a multi-line string: such a string
        // would have to hold a line like "[;" to be refused, and a node configuration has no use for
        // one (telling strings from comments here would take a second parser).
        for (index, line) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.firstRange(of: [0xEF, 0xBF, 0xBD]) != nil {
                throw ConfigurationError(
                    file: file, field: nil,
                    "contains the Unicode replacement character (U+FFFD) at line \(index + 1): the file was damaged by a wrong text encoding"
                )
            }
            let trimmed = line.drop(while: isBlank)
            guard trimmed.first == UInt8(ascii: "[") else { continue }
            let afterBracket = trimmed.dropFirst(trimmed.dropFirst().first == UInt8(ascii: "[") ? 2 : 1)
            let header = afterBracket.prefix { $0 != UInt8(ascii: "]") }
            let quoted = header.contains(UInt8(ascii: "\"")) || header.contains(UInt8(ascii: "'"))
            let segments = quoted ? [header] : header.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            for segment in segments {
                guard let first = segment.drop(while: isBlank).first else {
                    throw ConfigurationError(file: file, field: nil, "line \(index + 1): a table header without a name")
                }
                if !startsKey(first) {
                    let shown = String(decoding: segment.drop(while: isBlank).prefix(4), as: UTF8.self).prefix(1)
                    throw ConfigurationError(
                        file: file, field: nil, "line \(index + 1): a table header holds names of letters, digits, '_' and '-', not \"\(shown)\""
                    )
                }
            }
        }
    }

    /// A `}` where an array's value belongs — right after `[` or `,`, across blanks, line ends
    /// and comments (`a = [ }`, `a = [1, }`) — trips toml++'s assertion in `parse_value`. Neither
    /// is valid TOML (no value starts with `}`, and an inline table takes no trailing comma), so
    /// any such `}` outside a string is refused.
    static func checkBraceWhereValueBelongs(_ text: String, file: String) throws(ConfigurationError) {
        let bytes = Array(text.utf8)
        var line = 1
        var lastSignificant: UInt8 = 0
        var index = 0
        func at(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\n"):
                line += 1
                index += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                index += 1
            case UInt8(ascii: "#"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                // A string, basic or literal, one line or multi-line: skipped whole.
                let multiLine = at(1) == byte && at(2) == byte
                let escapes = byte == UInt8(ascii: "\"")
                index += multiLine ? 3 : 1
                while index < bytes.count {
                    let current = bytes[index]
                    if escapes, current == UInt8(ascii: "\\") {
                        if at(1) == UInt8(ascii: "\n") { line += 1 }
                        index += 2
                        continue
                    }
                    if current == UInt8(ascii: "\n") {
                        line += 1
                        if !multiLine { break }
                    }
                    if current == byte, !multiLine || (at(1) == byte && at(2) == byte) {
                        index += multiLine ? 3 : 1
                        break
                    }
                    index += 1
                }
                lastSignificant = byte
            default:
                if byte == UInt8(ascii: "}"), lastSignificant == UInt8(ascii: "[") || lastSignificant == UInt8(ascii: ",") {
                    throw ConfigurationError(file: file, field: nil, "line \(line): '}' where a value belongs (after '\(Character(Unicode.Scalar(lastSignificant)))')")
                }
                lastSignificant = byte
                index += 1
            }
        }
    }
}
