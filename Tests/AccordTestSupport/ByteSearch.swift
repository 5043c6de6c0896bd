extension Array where Element == UInt8 {
    /// Whether `needle` occurs anywhere in these bytes: need-to-know tests scan database files,
    /// WALs and logs for an agreement's id or title with it.
    public func contains(subsequence needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return false }
        let first = needle[0]
        var index = 0
        while index <= count - needle.count {
            if self[index] == first, self[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
