public import AccordCrypto

/// A change with its author's signature, as it travels between nodes and rests in storage.
///
/// Its encoding is the change's canonical bytes followed by the 64-byte signature.
public struct SignedChange: Hashable, Sendable {
    public let change: Change
    public let signature: P256Signature

    public init(change: Change, signature: P256Signature) {
        self.change = change
        self.signature = signature
    }

    public init(encoded bytes: [UInt8]) throws(ChangeRejection) {
        let parts = try Self.parts(of: bytes)
        change = try Change(canonicalBytes: parts.change)
        signature = parts.signature
    }

    /// A signed change read back from this node's own log (`Change.init(storedCanonicalBytes:)`).
    package init(storedEncoding bytes: [UInt8]) throws(ChangeRejection) {
        let parts = try Self.parts(of: bytes)
        change = try Change(storedCanonicalBytes: parts.change)
        signature = parts.signature
    }

    /// The change's bytes and the trailing signature.
    private static func parts(of bytes: [UInt8]) throws(ChangeRejection) -> (change: [UInt8], signature: P256Signature) {
        guard bytes.count > P256Signature.byteCount else {
            throw ChangeRejection(.malformed, "\(bytes.count) bytes are too few for a signed change")
        }
        let split = bytes.count - P256Signature.byteCount
        guard let signature = try? P256Signature(rawRepresentation: Array(bytes[split...])) else {
            throw ChangeRejection(.malformed, "the trailing signature is not 64 bytes")
        }
        return (Array(bytes[..<split]), signature)
    }

    public var encoded: [UInt8] { change.canonicalBytes + signature.rawRepresentation }

    public var id: ChangeID { change.id }

    /// The bytes the author signs: a domain tag, so that a change signature can never be taken
    /// for any other signature made with the same key, then the canonical change.
    public static func signedMessage(for change: Change) -> [UInt8] {
        Array("accord/change/v1\n".utf8) + change.canonicalBytes
    }
}

/// A change whose author signature (and any approval signature in it) has been checked against a
/// trusted key. Only verification, local signing and the node's own store make one, so the merge
/// can never be handed an unverified change.
public struct VerifiedChange: Hashable, Sendable, CustomStringConvertible {
    public let signed: SignedChange

    init(verified signed: SignedChange) { self.signed = signed }

    /// For changes read back from this node's own durable log, which only ever holds changes
    /// that were verified before they were written.
    public init(fromTrustedLog signed: SignedChange) { self.signed = signed }

    public var change: Change { signed.change }
    public var id: ChangeID { signed.change.id }
    public var description: String { signed.change.description }
}

/// A key a node may sign changes with, and the instant from which it no longer may.
public struct AuthorKey: Sendable {
    public let publicKey: P256PublicKey
    /// Unix milliseconds: the key's certificate was revoked then, so a change stamped at or after
    /// it is refused (`revoked-author`). Nil while the certificate is not revoked.
    public let revokedAtMillis: UInt64?

    public init(publicKey: P256PublicKey, revokedAtMillis: UInt64? = nil) {
        self.publicKey = publicKey
        self.revokedAtMillis = revokedAtMillis
    }

    /// Whether the key still spoke for its node at `millis`.
    public func speaks(atMillis millis: UInt64) -> Bool { revokedAtMillis.map { millis < $0 } ?? true }
}

/// The keys a node trusts to author changes: node → keys, built from certificates that were
/// checked against the consortium CA and its revocation lists. A node is known by its
/// organisation *and* name, so a certificate for `globex/n1` can never sign a change claiming
/// `acme/n1`. A node may have more than one key (a renewed certificate): its older changes stay
/// verifiable.
public protocol AuthorDirectory: Sendable {
    func keys(of node: NodeID) -> [AuthorKey]
}

/// A fixed directory, for tests and fuzzing.
package struct StaticAuthorDirectory: AuthorDirectory {
    private let keys: [NodeID: AuthorKey]

    package init(_ keys: [NodeID: P256PublicKey]) { self.keys = keys.mapValues { AuthorKey(publicKey: $0) } }

    package init(keys: [NodeID: AuthorKey]) { self.keys = keys }

    package func keys(of node: NodeID) -> [AuthorKey] { keys[node].map { [$0] } ?? [] }
}

/// Checks signatures; stateless and safe to run on many threads at once.
public struct ChangeVerifier: Sendable {
    public let directory: any AuthorDirectory

    public init(directory: any AuthorDirectory) { self.directory = directory }

    public func verify(_ signed: SignedChange) throws(ChangeRejection) -> VerifiedChange {
        let change = signed.change
        let keys = directory.keys(of: change.author)
        guard !keys.isEmpty else {
            throw ChangeRejection(
                .unknownAuthor,
                "\(change) names author \(change.author), for whom no certificate from the consortium CA is known"
            )
        }
        let message = SignedChange.signedMessage(for: change)
        let signing = keys.filter { $0.publicKey.isValidSignature(signed.signature, for: message) }
        guard !signing.isEmpty else {
            throw ChangeRejection(.badSignature, "\(change) is not signed by any key of \(change.author)")
        }
        // The stamp is the author's claim of when it signed: a revoked key is believed only for
        // what it claims to have signed before its revocation (docs/security-model.md).
        guard let key = signing.first(where: { $0.speaks(atMillis: change.stamp.millis) }) else {
            let revoked = signing.compactMap(\.revokedAtMillis).max() ?? 0
            throw ChangeRejection(
                .revokedAuthor,
                "\(change) is stamped \(change.stamp.millis) ms, at or after the revocation of \(change.author)'s certificate (\(revoked) ms)"
            )
        }
        for case .approve(_, let termsHash, let signature) in change.edits {
            let message = Approval.signedMessage(agreement: change.agreement, termsHash: termsHash)
            guard key.publicKey.isValidSignature(signature, for: message) else {
                throw ChangeRejection(.badSignature, "the approval in \(change) is not signed by the key of \(change.author)")
            }
        }
        return VerifiedChange(verified: signed)
    }
}

/// A node's signing identity: its name and its private key.
public struct ChangeSigner: Sendable {
    public let node: NodeID
    let key: P256PrivateKey

    public init(node: NodeID, key: P256PrivateKey) {
        self.node = node
        self.key = key
    }

    public var publicKey: P256PublicKey { key.publicKey }

    /// Signs a change this node authored. The result counts as verified: we made it.
    public func sign(_ change: Change) throws(CryptoError) -> VerifiedChange {
        precondition(change.author == node, "\(node) cannot sign a change authored by \(change.author)")
        let signature = try key.signature(for: SignedChange.signedMessage(for: change))
        return VerifiedChange(verified: SignedChange(change: change, signature: signature))
    }

    /// The signature that goes into an `approve` edit.
    public func approvalSignature(agreement: AgreementID, termsHash: SHA256Digest) throws(CryptoError) -> P256Signature {
        try key.signature(for: Approval.signedMessage(agreement: agreement, termsHash: termsHash))
    }
}
