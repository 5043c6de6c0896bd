/// Why a change was refused. Each rule of the trust model has its own code, so that counters,
/// logs and tests can tell them apart, and a message that says what the operator can do about it.
///
/// Equality is by code: two rejections for the same rule are the same verdict even if their
/// messages name different changes.
public struct ChangeRejection: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The bytes do not follow the change format, or break a structural limit.
        public static let malformed = Code("malformed")
        /// The author's signature over the change (or over an approval in it) does not verify.
        public static let badSignature = Code("bad-signature")
        /// No trusted certificate is known for the node the change names as its author.
        public static let unknownAuthor = Code("unknown-author")
        /// The author's certificate was revoked before the change's stamp: the key no longer speaks
        /// for its node from the revocation date on (docs/security-model.md, "Revocation").
        public static let revokedAuthor = Code("revoked-author")
        /// The change came from a peer whose organisation is neither a party nor a former party of
        /// an agreement this node holds: only its parties' nodes may deliver its changes. Like a
        /// bad signature it says nothing about the change itself, so it is never recorded by id.
        public static let deliveredByNonParty = Code("delivered-by-non-party")
        /// The author's organisation was not a party in the change's causal past.
        public static let authorNotParty = Code("author-not-party")
        /// An approval names an organisation other than the author's.
        public static let approvalForAnotherOrganisation = Code("approval-for-another-organisation")
        /// A party withdrawal names an organisation other than the author's.
        public static let withdrawalOfAnotherParty = Code("withdrawal-of-another-party")
        /// The author had already seen the agreement's termination; only notes are allowed after it.
        public static let editAfterTermination = Code("edit-after-termination")
        /// The change builds on a change that was itself rejected.
        public static let dependsOnRejectedChange = Code("depends-on-rejected-change")
        /// The change's stamp is not later than the stamps of the changes it depends on.
        public static let stampNotAfterDependencies = Code("stamp-not-after-dependencies")
        /// A genesis change that does not list its creator's organisation among the parties.
        public static let creatorNotParty = Code("creator-not-party")
        /// A genesis change with fewer than two parties.
        public static let tooFewParties = Code("too-few-parties")
        /// An edit of a commitment that was never created in the change's causal past.
        public static let unknownCommitment = Code("unknown-commitment")
        /// A step of fulfilment by the wrong side: a claim not by the owing party, or a
        /// confirmation, dispute or waiver by it (trust rule 6).
        public static let progressByWrongParty = Code("progress-by-wrong-party")
        /// A step that does not follow from where its author saw the commitment: confirming or
        /// disputing what was not claimed, claiming or waiving what was settled (trust rule 6).
        public static let progressOutOfOrder = Code("progress-out-of-order")
        /// A period that is not one of the commitment's schedule, or none for a recurring one (rule 6).
        public static let unknownPeriod = Code("unknown-period")
        /// A void not by the creator's organisation, or after an approval (trust rule 7).
        public static let voidRefused = Code("void-refused")
        /// An edit other than a note after its author had seen the agreement voided (rule 7).
        public static let editAfterVoid = Code("edit-after-void")
        /// A removal, or a consent to one, of oneself, of a non-party or of a party that approved,
        /// or one that would leave fewer than two parties (trust rule 8).
        public static let removalRefused = Code("removal-refused")
        /// A removal without the consent of every other party in its author's past (rule 8).
        public static let removalWithoutConsent = Code("removal-without-consent")
        /// An agreement to a termination its author had not seen (trust rule 9).
        public static let noTerminationToAgree = Code("no-termination-to-agree")

        public var description: String { name }

        /// Every code, for parsing stored verdicts and for metrics labels.
        public static let all: [Code] = [
            .malformed, .badSignature, .unknownAuthor, .revokedAuthor, .deliveredByNonParty, .authorNotParty, .approvalForAnotherOrganisation,
            .withdrawalOfAnotherParty, .editAfterTermination, .dependsOnRejectedChange, .stampNotAfterDependencies,
            .creatorNotParty, .tooFewParties, .unknownCommitment, .progressByWrongParty, .progressOutOfOrder, .unknownPeriod,
            .voidRefused, .editAfterVoid, .removalRefused, .removalWithoutConsent, .noTerminationToAgree,
        ]

        /// The code printed as `name`, e.g. "author-not-party".
        public init?(name: String) {
            guard let code = Code.all.first(where: { $0.name == name }) else { return nil }
            self = code
        }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    public static func == (lhs: ChangeRejection, rhs: ChangeRejection) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    static func malformed(_ error: DecodingError) -> ChangeRejection {
        ChangeRejection(.malformed, error.description)
    }
}
