/// `GET /v1/events`: one thing that happened on the node, as a server-sent event whose `event:`
/// line is `type` and whose `data:` line is this object (docs/admin-api.md, "Events").
///
/// One flat shape for every type: the fields a type does not use are absent, so a consumer in
/// any language decodes every event the same way and switches on `type`.
public struct NodeEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case agreementCreated = "agreement-created"
        /// Fields written by accepted changes (`fields`), by whom (`by`).
        case agreementChanged = "agreement-changed"
        case approvalGiven = "approval-given"
        /// Approvals that no longer cover the terms, because the terms changed (`organisations`).
        case approvalsStale = "approvals-stale"
        /// Concurrent writes to one field (`field`): `value` won, `overruled` lost.
        case conflictOpened = "conflict-opened"
        case commitmentStateChanged = "commitment-state-changed"
        case statusChanged = "status-changed"
        case noteAdded = "note-added"
        /// A party gave notice (`message` the reason, `date` the day it takes effect) or ended it at once.
        case agreementTerminated = "agreement-terminated"
        /// A party agreed to a termination it saw (`organisation`): with every party, it ends at once.
        case terminationAgreed = "termination-agreed"
        /// The creator voided the draft (`message` the reason).
        case agreementVoided = "agreement-voided"
        /// A party consented to removing `organisation` (`by`), or removed it once all had.
        case partyRemovalConsented = "party-removal-consented"
        case partyRemoved = "party-removed"
        /// An open commitment's due date passed (`commitment`, `organisation` owns it, `message`).
        case commitmentOverdue = "commitment-overdue"
        /// A live agreement's expiry date passed.
        case agreementExpired = "agreement-expired"
        /// A change the rules refused (`rule`, `message`), from `peer` if it came from one.
        case changeRejected = "change-rejected"
        case changeHeld = "change-held"
        case changeReleased = "change-released"
        case peerConnected = "peer-connected"
        case peerDisconnected = "peer-disconnected"
        /// The subscriber missed events (`message` says why and how to resync): it fell behind,
        /// asked to resume from an event the node no longer keeps, or the node restarted.
        case eventsLost = "events-lost"
    }

    /// `RUN.SEQUENCE`: resume after it with `?since=` or `Last-Event-ID`. `RUN` changes when
    /// the node restarts, so a stale id is recognised and answered with `events-lost`.
    public var id: String
    public var type: Kind
    /// When it happened (RFC 3339, the node's clock).
    public var at: String
    public var agreement: String?
    public var title: String?
    public var fields: [String]?
    /// The node that authored the change(s), `organisation/node`.
    public var by: String?
    /// Who made the change through that node, where it said (an approval, a note, a termination,
    /// a commitment's state, a creation).
    public var actor: ActorView?
    public var organisation: String?
    public var organisations: [String]?
    /// The period of a recurring commitment (`commitment-state-changed`), or the day a
    /// termination takes effect (`agreement-terminated`), `YYYY-MM-DD`.
    public var period: String?
    public var date: String?
    public var termsHash: String?
    public var field: String?
    public var value: String?
    public var overruled: [String]?
    public var commitment: String?
    public var state: String?
    public var from: String?
    public var to: String?
    public var change: String?
    public var rule: String?
    public var message: String?
    public var peer: String?
    public var direction: String?

    public init(id: String = "", type: Kind, at: String = "", agreement: String? = nil) {
        self.id = id
        self.type = type
        self.at = at
        self.agreement = agreement
    }

    /// One line for a terminal (`accordctl watch`).
    public var summary: String {
        let subject = agreement.map { "agreement \($0)" } ?? peer.map { "peer \($0)" } ?? "node"
        let detail: String =
            switch type {
            case .agreementCreated: "created \(title.map { "\"\($0)\"" } ?? "")"
            case .agreementChanged: "changed \((fields ?? []).joined(separator: ", ")) by \(by ?? "?")"
            case .approvalGiven: "approved by \(organisation ?? "?") over terms \(termsHash?.prefix(16) ?? "?")…"
            case .approvalsStale: "approvals of \((organisations ?? []).joined(separator: ", ")) no longer cover the terms"
            case .conflictOpened: "conflict on \(field ?? "?"): \(value ?? "?") wins over \((overruled ?? []).joined(separator: ", "))"
            case .commitmentStateChanged: "commitment \(commitment ?? "?")" + (period.map { " for \($0)" } ?? "") + " is \(state ?? "?")"
            case .statusChanged: "status \(from ?? "?") → \(to ?? "?")"
            case .noteAdded: "note by \(by ?? "?")"
            case .agreementTerminated: "terminated" + (date.map { ", taking effect \($0)" } ?? "") + ": \(message ?? "")"
            case .terminationAgreed: "\(organisation ?? "?") agreed to the termination"
            case .agreementVoided: "voided: \(message ?? "")"
            case .partyRemovalConsented: "\(by ?? "?") consented to removing \(organisation ?? "?")"
            case .partyRemoved: "\(organisation ?? "?") removed by \(by ?? "?")"
            case .commitmentOverdue: "commitment \(commitment ?? "?") of \(organisation ?? "?") overdue: \(message ?? "")"
            case .agreementExpired: "\(message ?? "expired")"
            case .changeRejected: "change \(change?.prefix(16) ?? "?")… rejected (\(rule ?? "?")): \(message ?? "")"
            case .changeHeld: "change \(change?.prefix(16) ?? "?")… held: \(message ?? "")"
            case .changeReleased: "change \(change?.prefix(16) ?? "?")… released"
            case .peerConnected: "connected (\(direction ?? "?"))"
            case .peerDisconnected: "disconnected (\(message ?? "closed"))"
            case .eventsLost: "events lost: \(message ?? "")"
            }
        return "\(at)  \(type.rawValue)  \(subject)  \(detail)"
    }
}
