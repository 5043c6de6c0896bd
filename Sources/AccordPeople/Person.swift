/// Someone signed in to the console, as the node knows them for the session.
public struct Person: Sendable, Equatable {
    public enum SignIn: String, Sendable {
        /// Through the organisation's identity provider.
        case identityProvider = "oidc"
        /// With a one-time token from `accordctl console token`: bootstrap and break-glass, as admin.
        case token
    }

    /// The identity provider's stable subject (`sub`); for a token sign-in, "token".
    public let subject: String
    public let name: String?
    public let email: String?
    public let roles: RoleSet
    public let signIn: SignIn

    public init(subject: String, name: String?, email: String?, roles: RoleSet, signIn: SignIn) {
        self.subject = subject
        self.name = name
        self.email = email
        self.roles = roles
        self.signIn = signIn
    }

    /// Whoever signed in with a one-time token: the node's operator, acting as admin.
    public static let breakGlass = Person(subject: "token", name: "Operator (token sign-in)", email: nil, roles: RoleSet([.admin]), signIn: .token)

    /// How the console names them: name, else e-mail, else subject.
    public var displayName: String { name ?? email ?? subject }
}
