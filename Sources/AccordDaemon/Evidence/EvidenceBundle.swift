import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore
import Foundation

/// Everything an outsider needs to check an agreement's history without Accord: each accepted
/// change in the exact bytes its author signed and the signature in the DER form openssl reads,
/// each author's certificate, the consortium CA, and for each approval the terms it covers (in
/// the canonical bytes whose SHA-256 is the approved terms hash, and readable), plus `verify.sh`,
/// which checks all of it with a POSIX shell and the `openssl` command (docs/evidence.md).
///
/// Pure: the same history, certificates and CA give the same files.
struct EvidenceBundle {
    struct File: Equatable {
        let path: String
        let bytes: [UInt8]
        var executable = false
    }

    let agreement: AgreementID
    let history: [HistoryEntry]
    let certificates: [Certificate]
    let authorityPEM: String

    var files: [File] {
        var files: [File] = [
            File(path: "verify.sh", bytes: Array(EvidenceScript.text.utf8), executable: true),
            File(path: "ca.pem", bytes: Array(authorityPEM.utf8)),
            File(path: "agreement", bytes: Array("\(agreement)\n".utf8)),
        ]
        // Certificates of the authors, numbered, with an index: node names are free text.
        let authors = Set(history.map(\.change.author))
        let used = certificates.filter { certificate in authors.contains { $0.organisation.rawValue == certificate.organisation && $0.name == certificate.commonName } }
        var index = ""
        for (number, certificate) in used.enumerated() {
            files.append(File(path: "certificates/\(number + 1).pem", bytes: Array(Self.pem(certificate.derRepresentation).utf8)))
            index += "\(number + 1).pem\t\(certificate.organisation)/\(certificate.commonName)\n"
        }
        files.append(File(path: "certificates/index", bytes: Array(index.utf8)))

        var changes = ""
        for entry in history {
            let name = "changes/\(entry.sequence)"
            files.append(File(path: "\(name).msg", bytes: SignedChange.signedMessage(for: entry.change)))
            files.append(File(path: "\(name).sig", bytes: entry.signature.derRepresentation))
            changes += "\(entry.sequence)\t\(entry.change.author)\t\(AdminAPI.timestamp(millis: entry.change.stamp.millis))\t\(entry.change.id.hex)\n"
        }
        files.append(File(path: "changes/index", bytes: Array(changes.utf8)))

        var approvals = ""
        var number = 0
        for (position, entry) in history.enumerated() {
            for case .approve(let organisation, let termsHash, let signature) in entry.change.edits {
                number += 1
                let name = "approvals/\(number)"
                files.append(File(path: "\(name).msg", bytes: Approval.signedMessage(agreement: agreement, termsHash: termsHash)))
                files.append(File(path: "\(name).sig", bytes: signature.derRepresentation))
                if let terms = termsApproved(by: position, hash: termsHash) {
                    files.append(File(path: "\(name).terms", bytes: terms.canonicalEncoding))
                    files.append(File(path: "\(name).terms.txt", bytes: Self.readable(terms)))
                }
                approvals += "\(number)\t\(organisation)\t\(entry.change.author)\t\(AdminAPI.timestamp(millis: entry.change.stamp.millis))\t\(termsHash.hex)\t\(entry.sequence)\n"
            }
        }
        files.append(File(path: "approvals/index", bytes: Array(approvals.utf8)))
        files.append(File(path: "README.txt", bytes: Array(Self.readme(agreement).utf8)))
        return files
    }

    /// The terms the approval in `history[position]` signed: those of the agreement as its
    /// author saw it, that is after every change the approving change builds on (its causal
    /// past, replayed in log order, which respects causality). Nil if they do not hash to
    /// `hash` (an approval of terms this node never held).
    private func termsApproved(by position: Int, hash: SHA256Digest) -> Terms? {
        var past: Set<ChangeID> = []
        var frontier = history[position].change.dependencies
        let byID = Dictionary(history.map { ($0.change.id, $0.change) }, uniquingKeysWith: { first, _ in first })
        while let next = frontier.popLast() {
            guard past.insert(next).inserted, let change = byID[next] else { continue }
            frontier += change.dependencies
        }
        var replica = AgreementReplica(id: agreement, configuration: ReplicaConfiguration(maximumClockSkewMillis: .max / 2))
        let latest = history.map(\.change.stamp.millis).max() ?? 0
        for entry in history[..<position] where past.contains(entry.change.id) {
            _ = replica.apply(VerifiedChange(fromTrustedLog: SignedChange(change: entry.change, signature: entry.signature)), nowMillis: latest)
        }
        let terms = replica.agreement.terms
        return terms.hash == hash ? terms : nil
    }

    private static func readable(_ terms: Terms) -> [UInt8] {
        var lines = [
            "agreement: \(terms.agreement)", "title: \(terms.title ?? "")", "category: \(terms.category?.name ?? "")",
            "parties: \(terms.parties.map(\.rawValue).joined(separator: ", "))",
            "effective from: \(terms.effectiveFrom?.description ?? "")", "expires on: \(terms.expiresOn?.description ?? "")",
        ]
        for dimension in FrameworkDimension.allCases { lines.append("framework \(dimension.name): \(terms.framework[dimension] ?? "")") }
        for commitment in terms.commitments {
            lines.append(
                "commitment \(commitment.id): by \(commitment.by?.rawValue ?? "") kind \(commitment.kind?.name ?? "") due \(commitment.dueDate?.description ?? "-"): \(commitment.description ?? "")"
            )
        }
        lines.append("SHA-256 of the canonical terms (the approved terms hash): \(terms.hash.hex)")
        return Array((lines.joined(separator: "\n") + "\n").utf8)
    }

    static func pem(_ der: [UInt8]) -> String {
        let base64 = Data(der).base64EncodedString()
        var lines: [Substring] = []
        var rest = Substring(base64)
        while !rest.isEmpty {
            lines.append(rest.prefix(64))
            rest = rest.dropFirst(64)
        }
        return "-----BEGIN CERTIFICATE-----\n" + lines.joined(separator: "\n") + "\n-----END CERTIFICATE-----\n"
    }

    private static func readme(_ agreement: AgreementID) -> String {
        """
        Evidence of the history of agreement \(agreement), written by an Accord node.

        Check it with nothing but a POSIX shell and the openssl command:

            sh verify.sh

        It checks that every author certificate was issued by the consortium CA (ca.pem) to the
        node it names, that every change (changes/N.msg: the exact bytes the author signed) carries
        a valid signature of its author (changes/N.sig), and that every approval (approvals/N.msg)
        is signed by the approving node and names this agreement and the SHA-256 of the terms in
        approvals/N.terms (their canonical bytes; approvals/N.terms.txt is the same terms for
        reading). It prints who approved which terms when, and FAIL lines naming anything that
        does not hold; it exits 0 only if everything holds.

        The indexes (changes/index, approvals/index, certificates/index) say which file is which,
        with the time each change was stamped by its author.

        """
    }
}
