public import AccordCrypto

/// An organisation's signed approval of the exact terms of an agreement.
public struct Approval: Hashable, Sendable {
    public let organisation: OrganisationID
    /// The content hash of the terms the approving node saw.
    public let termsHash: SHA256Digest
    /// The approving node's signature over `signedMessage(agreement:termsHash:)`.
    public let signature: P256Signature

    /// What an approval signs: a domain tag, the agreement id and the terms hash, so that an
    /// approval can be checked on its own and never be moved to another agreement.
    public static func signedMessage(agreement: AgreementID, termsHash: SHA256Digest) -> [UInt8] {
        Array("accord/approval/v1\n".utf8) + agreement.uuid.bytes + termsHash.bytes
    }
}

/// A note on an agreement; notes only ever accumulate.
public struct Note: Hashable, Sendable {
    public let text: String
    public let stamp: Stamp
    public let change: ChangeID
    /// Position among the notes of the same change.
    public let index: Int

    public var author: NodeID { stamp.node }

    fileprivate var order: (Stamp, ChangeID, Int) { (stamp, change, index) }

    static func precedes(_ lhs: Note, _ rhs: Note) -> Bool { lhs.order < rhs.order }
}

/// The end of an agreement (or its voiding).
public struct Termination: Hashable, Sendable {
    public let reason: String
    public let stamp: Stamp
    public let change: ChangeID
    /// The notice period its author saw in the terms: the termination takes effect that many days
    /// after the day (UTC) of its stamp; 0 for at once.
    public let noticeDays: Int

    public var author: NodeID { stamp.node }

    /// The day it was given (UTC).
    public var givenOn: CalendarDate { CalendarDate(unixMillis: stamp.millis) }
    /// The day it takes effect unless every party agrees earlier.
    public var takesEffectOn: CalendarDate { givenOn.adding(days: noticeDays) }

    var order: (CalendarDate, Stamp, ChangeID) { (takesEffectOn, stamp, change) }
}
