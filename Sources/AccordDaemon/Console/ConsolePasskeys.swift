import AccordAdminAPI
import AccordCrypto
import AccordModel
import AccordPeople
import AccordRefusals
import AccordStore
import Foundation
import Hummingbird
import Logging

/// Passkeys in the console: a person signed in through the identity provider registers theirs,
/// then approves with it, so the approval carries their own signature over the terms
/// (`PasskeySignature`), not only the node's.
///
/// The relying party is the console's host name and the origin its URL (`[console] url`); both
/// go into every passkey signature, so partners and `verify.sh` check the assertion against
/// them. A console reached at an IP address cannot use passkeys (WebAuthn needs a domain).
struct ConsolePasskeys: Sendable {
    let store: NodeStore
    let relyingParty: String
    let origin: String
    let required: Bool
    let refusals: RefusalLog
    let counters: AdminCounters
    let clock: @Sendable () -> UInt64

    /// Passkeys for a console at `url`; nil if its host is no domain name.
    init?(
        url: String, required: Bool, store: NodeStore, refusals: RefusalLog, counters: AdminCounters, clock: @escaping @Sendable () -> UInt64
    ) {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host?.lowercased(),
            DaemonConfiguration.isDomainName(host)
        else { return nil }
        relyingParty = host
        origin = "\(scheme.lowercased())://\(host)" + (components.port.map { ":\($0)" } ?? "")
        self.required = required
        self.store = store
        self.refusals = refusals
        self.counters = counters
        self.clock = clock
    }

    /// The challenge a session's registration signs: bound to the session (its secret CSRF
    /// token), unpredictable to anyone else, and kept nowhere.
    static func registrationChallenge(csrf: String) -> [UInt8] {
        SHA256Digest(hashing: Array("accord/passkey-registration/v1\n\(csrf)".utf8)).bytes
    }

    /// What the pages of `person`'s session need to offer passkeys.
    func controls(for person: Person) async throws -> ConsolePages.PasskeyControls {
        let registered = person.signIn == .identityProvider ? try await store.passkeys(of: person.subject) : []
        return ConsolePages.PasskeyControls(
            relyingParty: relyingParty, required: required, available: person.signIn == .identityProvider, registered: registered
        )
    }

    /// Registers the passkey a `navigator.credentials.create()` on the passkeys page made.
    func register(_ form: [String: String], csrf: String, person: Person, source: String) async throws -> RegisteredPasskey {
        guard person.signIn == .identityProvider else {
            throw refuse("a break-glass sign-in is no person: sign in through the identity provider to register a passkey", source: source)
        }
        let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
        guard (1...64).contains(name.count), !name.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            throw refuse("name the passkey (1–64 characters), such as \"laptop\"", source: source)
        }
        guard let authenticatorData = form["authenticatorData"].flatMap(Base64URL.decode), let clientData = form["clientDataJSON"].flatMap(Base64URL.decode)
        else {
            throw refuse("the browser sent no passkey (it needs JavaScript and WebAuthn)", source: source)
        }
        let registration: PasskeyRegistration
        do {
            registration = try PasskeyRegistration(
                authenticatorData: authenticatorData, clientDataJSON: clientData, challenge: Self.registrationChallenge(csrf: csrf), origin: origin,
                relyingParty: relyingParty
            )
        } catch {
            throw refuse("the passkey was not registered: \(error)", source: source)
        }
        let passkey = RegisteredPasskey(
            person: person.subject,
            credential: try PasskeySignature.Credential(
                id: registration.credentialID, publicKey: registration.publicKey, relyingParty: relyingParty, origin: origin, registeredAt: clock()
            ),
            signCount: registration.signCount, name: name
        )
        guard try await store.register(passkey) else {
            throw refuse("that passkey is registered already, or you have \(NodeStore.maximumPasskeysPerPerson) (remove one first)", source: source)
        }
        return passkey
    }

    /// The passkey assertion an approval form carries, checked: the passkey is the signed-in
    /// person's, it signs this approval's challenge (`PasskeySignature.challenge`) from this
    /// console, and its counter moved on. Nil if the form carries none.
    func evidence(
        _ form: [String: String], person: Person, actor: ActingPerson?, agreement: AgreementID, termsHash: String, source: String
    ) async throws -> PasskeyEvidence? {
        guard let credentialText = form["credential"], !credentialText.isEmpty else { return nil }
        guard let actor, person.signIn == .identityProvider else { throw refuse("a break-glass sign-in cannot approve with a passkey", source: source) }
        guard let credential = Base64URL.decode(credentialText), let authenticatorData = form["authenticatorData"].flatMap(Base64URL.decode),
            let clientData = form["clientDataJSON"].flatMap(Base64URL.decode), let signature = form["signature"].flatMap(Base64URL.decode),
            let hash = HexEncoding.decode(termsHash).flatMap({ SHA256Digest(bytes: $0) })
        else {
            throw refuse("the approval's passkey fields are not base64url", source: source)
        }
        guard let passkey = try await store.passkey(credential: credential), passkey.person == person.subject else {
            throw refuse("that passkey is not one you registered", source: source)
        }
        let assertion = try PasskeySignature.Assertion(authenticatorData: authenticatorData, clientDataJSON: clientData, signature: signature)
        if let problem = assertion.problem(challenge: PasskeySignature.challenge(agreement: agreement, termsHash: hash), credential: passkey.credential) {
            throw refuse("the passkey did not sign these terms: \(problem)", source: source)
        }
        let signCount = authenticatorData[33..<37].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard try await store.recordUse(of: credential, signCount: signCount) else {
            throw refuse("the passkey's counter went back (\(signCount)): it may have been cloned; register it again", source: source)
        }
        return PasskeyEvidence(person: actor.id, credential: passkey.credential, assertion: assertion)
    }

    /// Logs and counts a refused passkey action; the message goes to the page.
    private func refuse(_ message: String, source: String) -> AdminFailure {
        refusals.refused("console passkey refused", reason: "bad-passkey", level: .notice, metadata: ["source": "\(source)", "detail": "\(message)"])
        counters.consoleRefused("bad-passkey")
        return AdminFailure(.unprocessableContent, "bad-passkey", message)
    }
}
