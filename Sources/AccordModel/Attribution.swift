public import AccordCrypto

/// The person (or local user) who made a change through a node, as the node states it.
///
/// A node knows who acts through it — someone signed in to its console, or the local user of
/// its admin socket — and its partners know only the node. An attribution is the node's signed
/// statement of who made one change: kept beside the change (not inside it, so a node that
/// predates attributions still receives, verifies and relays the change itself unchanged) and
/// signed with the same key as the change, so no relay can forge or alter it, only leave it
/// out — which a reader then sees as "no person named" (docs/encoding.md, "Attribution").
public struct ActingPerson: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: UInt8, Sendable, CaseIterable {
        /// Signed in to the console through the organisation's identity provider.
        case person = 1
        /// A local user of the node's machine, through the admin socket (`accordctl`).
        case localUser = 2
        /// Signed in to the console with a one-time token (break-glass).
        case breakGlass = 3
    }

    public static let maximumIDBytes = 255
    public static let maximumNameBytes = 256

    public let kind: Kind
    /// Stable: the provider's subject (or the organisation's pseudonym for it), the Unix user
    /// name, or "token".
    public let id: String
    /// What the organisation shares of the person: a display name, an e-mail, or neither.
    public let name: String?
    public let email: String?

    public init(kind: Kind, id: String, name: String? = nil, email: String? = nil) throws(ChangeRejection) {
        guard !id.isEmpty, id.utf8.count <= Self.maximumIDBytes else {
            throw ChangeRejection(.malformed, "an actor's id is 1–\(Self.maximumIDBytes) bytes")
        }
        for text in [name, email].compactMap({ $0 }) where text.isEmpty || text.utf8.count > Self.maximumNameBytes {
            throw ChangeRejection(.malformed, "an actor's name or e-mail is 1–\(Self.maximumNameBytes) bytes")
        }
        for text in [id, name, email].compactMap({ $0 }) where text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            throw ChangeRejection(.malformed, "an actor's id, name and e-mail hold no control characters")
        }
        self.kind = kind
        self.id = id
        self.name = name
        self.email = email
    }

    /// "Alice Chen", else the e-mail, else the id; a local user as "user alice".
    public var description: String {
        switch kind {
        case .person: name ?? email ?? id
        case .localUser: "local user \(id)"
        case .breakGlass: "break-glass token"
        }
    }
}

/// A node's signed statement that `actor` made the change `change` (`ActingPerson`).
public struct Attribution: Hashable, Sendable {
    public static let formatVersion: UInt8 = 1

    public let change: ChangeID
    public let actor: ActingPerson
    public let signature: P256Signature

    /// The bytes the node signs, after a domain tag (`signedMessage`).
    public var canonicalBytes: [UInt8] { Self.canonicalBytes(change: change, actor: actor) }

    /// Canonical bytes then the 64-byte signature, as it travels and rests.
    public var encoded: [UInt8] { canonicalBytes + signature.rawRepresentation }

    public static let maximumEncodedBytes = 1 + 32 + 1 + 4 + ActingPerson.maximumIDBytes + 2 * (1 + 4 + ActingPerson.maximumNameBytes) + 64

    static func canonicalBytes(change: ChangeID, actor: ActingPerson) -> [UInt8] {
        var writer = CanonicalWriter(reservingCapacity: 128)
        writer.write(formatVersion)
        writer.writeFixed(change.bytes)
        writer.write(actor.kind.rawValue)
        writer.write(actor.id)
        writer.writeOptional(actor.name) { $0.write($1) }
        writer.writeOptional(actor.email) { $0.write($1) }
        return writer.bytes
    }

    /// A domain tag, so an attribution's signature can never be taken for a change's or an
    /// approval's made with the same key.
    public static func signedMessage(_ canonicalBytes: [UInt8]) -> [UInt8] { Array("accord/attribution/v1\n".utf8) + canonicalBytes }

    init(change: ChangeID, actor: ActingPerson, signature: P256Signature) {
        self.change = change
        self.actor = actor
        self.signature = signature
    }

    /// Decodes an attribution (its signature is not checked here: `verified(by:)`).
    public init(encoded bytes: [UInt8]) throws(ChangeRejection) {
        guard bytes.count > P256Signature.byteCount, bytes.count <= Self.maximumEncodedBytes else {
            throw ChangeRejection(.malformed, "an attribution of \(bytes.count) bytes is out of bounds")
        }
        let split = bytes.count - P256Signature.byteCount
        do {
            var reader = CanonicalReader(Array(bytes[..<split]))
            let version = try reader.readUInt8("attribution.version")
            guard version == Self.formatVersion else {
                throw DecodingError("attribution.version", at: 0, "format \(version) is not supported (this node reads \(Self.formatVersion))")
            }
            let change = SHA256Digest(bytes: Array(try reader.readFixed(32, "attribution.change")))!
            let kindByte = try reader.readUInt8("attribution.kind")
            guard let kind = ActingPerson.Kind(rawValue: kindByte) else { throw DecodingError("attribution.kind", at: 33, "kind \(kindByte) is unknown") }
            let id = try reader.readText("attribution.id", maximumBytes: ActingPerson.maximumIDBytes)
            let name = try reader.readOptional("attribution.name") { reader throws(DecodingError) in try reader.readText("attribution.name", maximumBytes: ActingPerson.maximumNameBytes) }
            let email = try reader.readOptional("attribution.email") { reader throws(DecodingError) in try reader.readText("attribution.email", maximumBytes: ActingPerson.maximumNameBytes) }
            try reader.expectEnd("attribution")
            self.change = change
            actor = try ActingPerson(kind: kind, id: id, name: name, email: email)
        } catch let error as DecodingError {
            throw ChangeRejection(.malformed, "attribution: \(error)")
        } catch let error as ChangeRejection {
            throw error
        } catch {
            throw ChangeRejection(.malformed, "attribution: \(error)")
        }
        guard let signature = try? P256Signature(rawRepresentation: Array(bytes[split...])) else {
            throw ChangeRejection(.malformed, "the attribution's trailing signature is not 64 bytes")
        }
        self.signature = signature
        guard canonicalBytes == Array(bytes[..<split]) else {
            throw ChangeRejection(.malformed, "the bytes are not the canonical encoding of the attribution they describe")
        }
    }

    /// Whether `change`'s author signed this attribution of it.
    public func isSigned(for change: VerifiedChange, by directory: any AuthorDirectory) -> Bool {
        change.id == self.change
            && directory.keys(of: change.change.author).contains { $0.publicKey.isValidSignature(signature, for: Self.signedMessage(canonicalBytes)) }
    }
}

extension ChangeSigner {
    /// The node's statement that `actor` made `change`, which this node authored.
    public func attribution(of change: VerifiedChange, to actor: ActingPerson) throws(CryptoError) -> Attribution {
        precondition(change.change.author == node, "\(node) cannot attribute a change authored by \(change.change.author)")
        let bytes = Attribution.canonicalBytes(change: change.id, actor: actor)
        return Attribution(change: change.id, actor: actor, signature: try key.signature(for: Attribution.signedMessage(bytes)))
    }
}
