import AccordCrypto
import AccordModel
import AccordStore

/// An agreement's accepted changes in this node's log order, replayed to find its terms at a
/// point: after a given change, or as an approval saw them (its causal past). What an evidence
/// bundle proves an approval covered and what the console's and `accordctl`'s differences
/// compare come from here, so they always agree.
///
/// Pure: the same history gives the same terms.
struct AgreementHistory {
    let agreement: AgreementID
    let entries: [HistoryEntry]

    /// The agreement after every change up to and including sequence `sequence`.
    func agreement(through sequence: Int64) -> Agreement {
        replayed(entries.indices.filter { entries[$0].sequence <= sequence }).agreement
    }

    /// The agreement after every change.
    var current: Agreement { replayed(entries.indices).agreement }

    /// The terms the approval in `entries[position]` signed: those of the agreement as its
    /// author saw it, that is after every change the approving change builds on (its causal
    /// past, replayed in log order, which respects causality). Nil if they do not hash to
    /// `hash` (an approval of terms this node never held).
    func termsApproved(at position: Int, hash: SHA256Digest) -> Terms? {
        var past: Set<ChangeID> = []
        var frontier = entries[position].change.dependencies
        let byID = Dictionary(entries.map { ($0.change.id, $0.change) }, uniquingKeysWith: { first, _ in first })
        while let next = frontier.popLast() {
            guard past.insert(next).inserted, let change = byID[next] else { continue }
            frontier += change.dependencies
        }
        let terms = replayed(entries[..<position].indices.filter { past.contains(entries[$0].change.id) }).agreement.terms
        return terms.hash == hash ? terms : nil
    }

    /// The latest approval by `organisation` in the log: where it is and the terms it covered.
    func latestApproval(by organisation: OrganisationID) -> (entry: HistoryEntry, terms: Terms)? {
        for position in entries.indices.reversed() {
            for case .approve(let approver, let hash, _) in entries[position].change.edits where approver == organisation {
                return termsApproved(at: position, hash: hash).map { (entries[position], $0) }
            }
        }
        return nil
    }

    /// The replica the changes at `positions` make, replayed in log order (which respects
    /// causality), with no clock to hold any of them.
    private func replayed<Positions: Sequence<Int>>(_ positions: Positions) -> AgreementReplica {
        var replica = AgreementReplica(id: agreement, configuration: ReplicaConfiguration(maximumClockSkewMillis: .max / 2))
        let latest = entries.map(\.change.stamp.millis).max() ?? 0
        for position in positions {
            let entry = entries[position]
            _ = replica.apply(VerifiedChange(fromTrustedLog: SignedChange(change: entry.change, signature: entry.signature)), nowMillis: latest)
        }
        return replica
    }
}
