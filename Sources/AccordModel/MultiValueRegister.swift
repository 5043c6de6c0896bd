/// The causal past of a change: the accepted changes it (transitively) depends on.
///
/// When a change builds on every head of the history, which is the common case, its past is
/// simply everything accepted so far, and no set needs to be built.
struct CausalPast {
    private let members: Set<ChangeID>?

    static let everything = CausalPast(members: nil)
    static func only(_ members: Set<ChangeID>) -> CausalPast { CausalPast(members: members) }

    /// Whether an accepted change lies in this past.
    func contains(_ id: ChangeID) -> Bool { members?.contains(id) ?? true }
}

/// One write to a register: the value and who wrote it when.
public struct RegisterWrite<Value: Hashable & Sendable>: Hashable, Sendable {
    public let value: Value
    public let stamp: Stamp
    public let change: ChangeID

    public var author: NodeID { stamp.node }

    /// The merge's order of writes: by stamp, and among equal stamps by change id (an honest
    /// node never stamps two changes alike, but one restored from an old backup or a hostile one
    /// might; the order must never depend on which arrived first).
    var order: (Stamp, ChangeID) { (stamp, change) }
}

/// A last-writer-wins register that remembers the writes it overruled *concurrently*.
///
/// It holds the maximal writes of the causal order: a write that had seen the others replaces
/// them all; writes made without seeing each other stay side by side. The greatest stamp among
/// them is the value everyone reads; the rest are the open conflict an operator can inspect.
/// Because the set of maximal writes depends only on the set of writes, every replica ends with
/// the same register whatever order the writes came in.
public struct MultiValueRegister<Value: Hashable & Sendable>: Hashable, Sendable {
    /// The concurrent maximal writes, greatest stamp first.
    public private(set) var writes: [RegisterWrite<Value>] = []

    /// The write that counts.
    public var winner: RegisterWrite<Value>? { writes.first }
    public var value: Value? { writes.first?.value }
    /// Writes that lost to `winner` without their authors having seen it.
    public var overruled: ArraySlice<RegisterWrite<Value>> { writes.dropFirst() }

    mutating func write(_ write: RegisterWrite<Value>, past: CausalPast) {
        writes.removeAll { past.contains($0.change) }
        let index = writes.firstIndex { $0.order < write.order } ?? writes.endIndex
        writes.insert(write, at: index)
    }
}
