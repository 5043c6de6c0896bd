package import AccordModel

/// A change-sending request made by reconciliation: the peer's heads of one agreement (empty: it
/// has nothing of it).
package struct RepairRequest: Hashable, Sendable {
    package let agreement: AgreementID
    package let peerHeads: [ChangeID]

    package init(agreement: AgreementID, peerHeads: [ChangeID]) {
        self.agreement = agreement
        self.peerHeads = peerHeads
    }
}

/// The agreements waiting to be repaired for a peer, first come first served, each at most once:
/// a newer request for an agreement already waiting replaces its heads (what the peer described
/// last is what it has) and keeps its place. So the queue never holds more than the agreements
/// the two nodes share, however often a peer names them. A pure value.
package struct RepairQueue: Sendable {
    private var order: [AgreementID] = []
    /// Index of the first entry of `order` not taken yet (taking never shifts the array).
    private var start = 0
    private var heads: [AgreementID: [ChangeID]] = [:]

    package init() {}

    package var count: Int { heads.count }
    package var isEmpty: Bool { heads.isEmpty }

    package mutating func request(_ agreement: AgreementID, peerHeads: [ChangeID]) {
        if heads.updateValue(peerHeads, forKey: agreement) == nil { order.append(agreement) }
    }

    /// Takes up to `limit` requests in the order they were first made.
    package mutating func take(_ limit: Int) -> [RepairRequest] {
        var taken: [RepairRequest] = []
        while taken.count < limit, start < order.count {
            let agreement = order[start]
            start += 1
            if let peerHeads = heads.removeValue(forKey: agreement) { taken.append(RepairRequest(agreement: agreement, peerHeads: peerHeads)) }
        }
        if start == order.count {
            order.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 4096, start * 2 > order.count {
            order.removeFirst(start)
            start = 0
        }
        return taken
    }
}
