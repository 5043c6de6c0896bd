import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordStore
import Foundation

/// Everything an outsider needs to check an agreement's history without Accord: each accepted
/// change in the exact bytes its author signed and the signature in the DER form openssl reads,
/// each author's certificate, the consortium CA, for each approval the terms it covers, the terms
/// at export, and the readable files — `history.txt`, each `terms.txt`, `status.txt` — that
/// `verify.sh` writes again from the signed bytes and compares, so that none can say what the
/// signatures do not (docs/evidence.md). What only the exporting node can say is in `status.txt`
/// under its own heading.
///
/// Pure: the same history, certificates, CA and moment of export give the same files.
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
    let exportedBy: NodeID
    /// Unix milliseconds; the day of it decides whether the agreement had expired.
    let exportedAt: UInt64

    var files: [File] {
        let replay = AgreementHistory(agreement: agreement, entries: history)
        // The agreement as the history in the bundle makes it: its terms and status at export.
        let current = replay.current
        let status = current.status(on: CalendarDate(unixMillis: exportedAt))
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
        var readable = ""
        for entry in history {
            let name = "changes/\(entry.sequence)"
            files.append(File(path: "\(name).msg", bytes: SignedChange.signedMessage(for: entry.change)))
            files.append(File(path: "\(name).sig", bytes: entry.signature.derRepresentation))
            changes += "\(entry.sequence)\t\(entry.change.author)\t\(EvidenceText.time(entry.change.stamp.millis))\t\(entry.change.id.hex)\n"
            readable += EvidenceText.change(entry)
        }
        files.append(File(path: "changes/index", bytes: Array(changes.utf8)))
        files.append(File(path: "history.txt", bytes: Array(readable.utf8)))
        files += people

        var approvals = ""
        var records: [EvidenceText.ApprovalRecord] = []
        for (position, entry) in history.enumerated() {
            for case .approve(let organisation, let termsHash, let signature) in entry.change.edits {
                let number = records.count + 1
                records.append(EvidenceText.ApprovalRecord(number: number, organisation: organisation, entry: entry, termsHash: termsHash))
                let name = "approvals/\(number)"
                files.append(File(path: "\(name).msg", bytes: Approval.signedMessage(agreement: agreement, termsHash: termsHash)))
                files.append(File(path: "\(name).sig", bytes: signature.derRepresentation))
                if let terms = replay.termsApproved(at: position, hash: termsHash) {
                    files.append(File(path: "\(name).terms", bytes: terms.canonicalEncoding))
                    files.append(File(path: "\(name).terms.txt", bytes: Array(EvidenceText.terms(terms).utf8)))
                }
                approvals += "\(number)\t\(organisation)\t\(entry.change.author)\t\(EvidenceText.time(entry.change.stamp.millis))\t\(termsHash.hex)\t\(entry.sequence)\n"
            }
        }
        files.append(File(path: "approvals/index", bytes: Array(approvals.utf8)))
        files.append(File(path: "current/terms", bytes: current.terms.canonicalEncoding))
        files.append(File(path: "current/terms.txt", bytes: Array(EvidenceText.terms(current.terms).utf8)))
        let proved = EvidenceText.proved(current: current.terms, approvals: records, history: history)
        files.append(File(
            path: "status.txt",
            bytes: Array(EvidenceText.status(agreement: agreement, exportedBy: exportedBy, exportedAt: exportedAt, status: status, proved: proved).utf8)
        ))
        files.append(File(path: "README.txt", bytes: Array(Self.readme(agreement).utf8)))
        return files
    }

    /// Who made the changes (`people/`), the approvers' passkey signatures (`passkeys/`), and
    /// `people.txt`, which says what they say.
    private var people: [File] {
        var files: [File] = []
        var attributed = ""
        var signed = ""
        var readable = ""
        for entry in history {
            let (sequence, author) = (entry.sequence, entry.change.author)
            if let attribution = entry.attribution {
                files.append(File(path: "people/\(sequence).msg", bytes: Attribution.signedMessage(attribution.canonicalBytes)))
                files.append(File(path: "people/\(sequence).sig", bytes: attribution.signature.derRepresentation))
                attributed += "\(sequence)\t\(author)\t\(entry.change.id.hex)\n"
                readable += EvidenceText.attribution(attribution, sequence: sequence, author: author)
            }
            if let passkey = entry.passkeySignature {
                let base = "passkeys/\(sequence)"
                files.append(File(path: "\(base).msg", bytes: PasskeySignature.signedMessage(passkey.canonicalBytes)))
                files.append(File(path: "\(base).sig", bytes: passkey.signature.derRepresentation))
                files.append(File(path: "\(base).key.der", bytes: passkey.credential.publicKey.subjectPublicKeyInfo))
                files.append(File(path: "\(base).authenticatorData", bytes: passkey.assertion.authenticatorData))
                files.append(File(path: "\(base).clientDataJSON", bytes: passkey.assertion.clientDataJSON))
                files.append(File(path: "\(base).signature.der", bytes: passkey.assertion.signature))
                signed += "\(sequence)\t\(author)\t\(entry.change.id.hex)\n"
                readable += EvidenceText.passkey(passkey, sequence: sequence)
            }
        }
        files.append(File(path: "people/index", bytes: Array(attributed.utf8)))
        files.append(File(path: "passkeys/index", bytes: Array(signed.utf8)))
        files.append(File(path: "people.txt", bytes: Array(readable.utf8)))
        return files
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

        What it proves, from the signed bytes alone:
        - every author certificate (certificates/) was issued by the consortium CA (ca.pem) to the
          node it is listed for;
        - every change (changes/N.msg: the exact bytes its author signed) carries a valid signature
          of its author (changes/N.sig), and says what history.txt says it says: verify.sh decodes
          the signed bytes (docs/encoding.md) and writes history.txt again;
        - every approval (approvals/N.msg) is signed by the approving node, names this agreement
          and the SHA-256 of the terms in approvals/N.terms, is the one carried by its change, and
          approvals/N.terms.txt says what approvals/N.terms says;
        - every statement of who made a change (people/N.msg) is signed by the node that authored
          change N and names it, and every approval signed with a person's passkey (passkeys/N.*)
          carries the node's signed statement of whose passkey it is and the passkey's valid
          signature over that approval, made at the console's origin: people.txt says what they say;
        - current/terms.txt says what current/terms says, and which parties it lists approved
          exactly those terms, and the termination, if any change terminated the agreement: the
          part of status.txt under "proved by verify.sh".

        What it cannot prove is under "stated by the exporting node" in status.txt: that the
        bundle holds every change, and that current/terms are the terms they merge to. The other
        parties' nodes hold the same history and can export their own bundle to compare.

        It ends with one line: VERIFIED (every check holds and every party approved the current
        terms; exit 0), VERIFIED, BUT NOT APPROVED BY EVERY PARTY (exit 3, naming who is
        missing), or NOT VERIFIED (exit 1, after FAIL lines naming each file and what does not
        hold). A termination is stated on the VERIFIED line.

        """
    }
}
