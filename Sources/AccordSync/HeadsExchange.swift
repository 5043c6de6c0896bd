package import AccordModel

/// What this side said and promised in the current round's exchange of heads (docs/protocol.md,
/// "A session's work"), so that a change is never sent twice because of how the peer worded its
/// request, and the last heads frame of the round is the final one. Reset when a round starts.
/// A pure value.
package struct HeadsExchange: Sendable {
    /// Agreements whose heads this side sent in this round.
    private var described: Set<AgreementID> = []
    /// Agreements queued to be sent whole in this round (the peer holds nothing of them).
    private var sentWhole: Set<AgreementID> = []
    /// This side's final heads frame was sent: its answers after it are final too.
    package private(set) var finalSent = false

    package init() {}

    /// This side describes `agreements` (its own differences, at the end of its comparison).
    package mutating func describe(_ agreements: some Sequence<AgreementID>) { described.formUnion(agreements) }

    /// Whether to answer the peer's heads of `agreement` with this side's (it has not described
    /// them yet this round); marks them described.
    package mutating func answers(_ agreement: AgreementID) -> Bool { described.insert(agreement).inserted }

    /// Whether the peer's heads of `agreement` call for a repair, and if they ask for the whole
    /// history (empty heads), notes that it is on its way. A peer that has nothing of an
    /// agreement, told by both the item lists and its heads, gets it once.
    package mutating func needsRepair(_ agreement: AgreementID, peerHeads: [ChangeID]) -> Bool {
        guard peerHeads.isEmpty else { return true }
        return sentWhole.insert(agreement).inserted
    }

    package mutating func sentFinal() { finalSent = true }
}
