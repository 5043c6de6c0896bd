import AccordAdminAPI

/// What the soak was told: every agreement created and every change a node acknowledged (its
/// accordctl answered with a receipt). The end checks hold the nodes to it.
actor Ledger {
    struct Agreement {
        let id: String
        /// A text that is in its title and every text written to it, for need-to-know scans.
        let token: String
        /// Every organisation that was ever a party, as far as acknowledged changes tell.
        var everParties: Set<String>
    }

    private(set) var agreements: [String: Agreement] = [:]
    private(set) var order: [String] = []
    /// Agreement id → acknowledged change ids.
    private(set) var acknowledged: [String: [String]] = [:]
    /// Node → the changes it acknowledged.
    private var acknowledgedBy: [String: [String]] = [:]
    /// Changes acknowledged by a node before its data directory was deleted: those that had not
    /// left it are lost with the disk.
    private(set) var atRisk: Set<String> = []
    private(set) var refused = 0
    private(set) var unreachable = 0
    private(set) var operations: [String: Int] = [:]

    var acknowledgedCount: Int { acknowledged.values.reduce(0) { $0 + $1.count } }

    func created(_ id: String, token: String, parties: [String], change: String, by node: String) {
        agreements[id] = Agreement(id: id, token: token, everParties: Set(parties))
        order.append(id)
        acknowledged[id, default: []].append(change)
        acknowledgedBy[node, default: []].append(change)
    }

    func acknowledge(_ operation: String, agreement: String, change: String, by node: String, addedParty: String? = nil) {
        operations[operation, default: 0] += 1
        acknowledged[agreement, default: []].append(change)
        acknowledgedBy[node, default: []].append(change)
        if let addedParty { agreements[agreement]?.everParties.insert(addedParty) }
    }

    /// `node`'s data directory was deleted.
    func diskLost(_ node: String) {
        atRisk.formUnion(acknowledgedBy[node] ?? [])
    }

    /// The agreements an organisation's node may hold and edit, oldest first.
    func agreements(withParty organisation: String) -> [String] {
        order.filter { agreements[$0]?.everParties.contains(organisation) == true }
    }

    func failed(unreachable wasUnreachable: Bool) {
        if wasUnreachable { unreachable += 1 } else { refused += 1 }
    }

    func parties(seen: [String: Set<String>]) {
        for (id, parties) in seen { agreements[id]?.everParties.formUnion(parties) }
    }
}
