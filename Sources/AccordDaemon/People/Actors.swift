import AccordCrypto
import AccordModel
import AccordPeople
import Foundation
import NIOCore

/// What an organisation shares with its partners about the people who act through its node
/// (`[people] share`): personal data is itself one of the framework's data-protection points.
public enum PersonSharing: String, Sendable, CaseIterable {
    /// The person's display name, and the provider's subject as their stable id.
    case name
    /// The person's e-mail address, and the subject as their stable id.
    case email
    /// Only a pseudonym: a keyed hash of issuer and subject, stable for the person, meaningless
    /// to a partner (the key never leaves the node's database).
    case pseudonym
}

/// Names the actor of a change as the organisation chose to share it.
struct ActorNaming: Sendable {
    let sharing: PersonSharing
    let issuer: String?
    /// For `pseudonym`: the node's secret (`NodeStore.pseudonymKey`).
    let pseudonymKey: [UInt8]?

    static let plain = ActorNaming(sharing: .name, issuer: nil, pseudonymKey: nil)

    /// The actor of a change made in a console session of `person`.
    func actor(for person: Person) -> ActingPerson? {
        switch person.signIn {
        case .token:
            return try? ActingPerson(kind: .breakGlass, id: "token")
        case .identityProvider:
            switch sharing {
            case .name: return try? ActingPerson(kind: .person, id: person.subject, name: person.name.map(Self.bounded))
            case .email: return try? ActingPerson(kind: .person, id: person.subject, email: person.email.map(Self.bounded))
            case .pseudonym:
                let input = (pseudonymKey ?? []) + Array("\n\(issuer ?? "")\n\(person.subject)".utf8)
                return try? ActingPerson(kind: .person, id: "p-" + SHA256Digest(hashing: input).hex.prefix(32))
            }
        }
    }

    /// A name or address cut to what an actor holds, without control characters.
    private static func bounded(_ text: String) -> String {
        var cleaned = String(text.unicodeScalars.filter { $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value) })
        while cleaned.utf8.count > ActingPerson.maximumNameBytes { cleaned.removeLast() }
        return cleaned.isEmpty ? "?" : cleaned
    }

    /// The actor of a change made through the admin socket by the local user with `uid`.
    static func localUser(uid: UInt32) -> ActingPerson? {
        var record = passwd()
        var buffer = [CChar](repeating: 0, count: 4096)
        var result: UnsafeMutablePointer<passwd>?
        let name =
            getpwuid_r(uid, &record, &buffer, buffer.count, &result) == 0 && result != nil
            ? String(cString: record.pw_name) : "uid \(uid)"
        return try? ActingPerson(kind: .localUser, id: name)
    }
}

extension Channel {
    /// The user id of the process at the other end of a Unix domain socket (`SO_PEERCRED`);
    /// nil for another kind of socket.
    func peerUserID() async -> UInt32? {
        guard let provider = self as? any SocketOptionProvider else { return nil }
        // `struct ucred`: pid, uid, gid, each 32 bits.
        let credentials: (Int32, UInt32, UInt32)? = try? await provider.unsafeGetSocketOption(
            level: .init(rawValue: SOL_SOCKET), name: .init(rawValue: SO_PEERCRED)
        ).get()
        return credentials?.1
    }
}
