/// Dates and times as people read them, with the time zone stated: "7 Dec 2026, 21:48 UTC",
/// "4 Dec 2026". The admin API keeps RFC 3339 with milliseconds; the console shows this.
enum ReadableTime {
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// "2026-12-07T21:48:26.123Z" → "7 Dec 2026, 21:48 UTC"; anything else as it is.
    static func moment(_ timestamp: String) -> String {
        let parts = timestamp.split(separator: "T")
        guard parts.count == 2, timestamp.hasSuffix("Z") else { return timestamp }
        return "\(day(String(parts[0]))), \(parts[1].prefix(5)) UTC"
    }

    /// "2026-12-04" → "4 Dec 2026"; anything else as it is.
    static func day(_ date: String) -> String {
        let fields = date.split(separator: "-")
        guard fields.count == 3, let year = Int(fields[0]), let month = Int(fields[1]), (1...12).contains(month), let day = Int(fields[2]) else {
            return date
        }
        return "\(day) \(months[month - 1]) \(year)"
    }
}
