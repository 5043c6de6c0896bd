public import AccordPeople
import Foundation

/// `[console.oidc]`: sign-in to the console through the organisation's OpenID Connect provider.
///
/// ```toml
/// [console.oidc]
/// issuer = "https://login.acme.example"
/// client_id = "accord-console"
/// client_secret_file = "oidc-secret"      # the file holds the secret, nothing else
/// scopes = ["openid", "profile", "email"]  # the default
/// groups_claim = "groups"                  # the default
/// ca_file = "provider-ca.pem"              # a private CA; by default the system's trusted roots
/// [console.oidc.roles]
/// "accord-viewers" = "viewer"
/// "legal" = ["editor", "approver"]
/// ```
public struct SignInConfiguration: Sendable, Equatable {
    /// The provider's issuer identifier, exactly as its ID tokens' `iss` names it.
    public var issuer: String
    public var clientID: String
    /// The file the client secret is read from (at start and on reload).
    public var clientSecretFile: String
    public var scopes: [String]
    /// The ID token claim that lists the person's groups or roles.
    public var groupsClaim: String
    public var roles: RoleMapping
    /// Where the provider sends the browser back: the console's URL and `/login/callback`.
    public var redirectURL: String
    /// The CAs an `https` provider's certificate must chain to; nil: the system's trusted roots.
    public var trustRootsFile: String? = nil

    /// Clock skew tolerated on an ID token's `exp` and `nbf`.
    public static let leeway: Duration = .seconds(60)

    static func parse(_ table: inout TOMLFields, consoleURL: String, path: (String) -> String) throws(ConfigurationError) -> SignInConfiguration {
        let issuer = try table.requiredString("issuer")
        guard let url = URLComponents(string: issuer), let scheme = url.scheme, let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil else {
            throw table.error("issuer", "\"\(issuer)\" is not an http(s) URL without query or fragment")
        }
        switch scheme {
        case "http":
            guard ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host) else {
                throw table.error("issuer", "\"\(issuer)\": over plain http, only a provider on this machine (localhost) is accepted; tokens and secrets must not cross a network unencrypted")
            }
        case "https":
            break
        default:
            throw table.error("issuer", "\"\(issuer)\" is not an http(s) URL")
        }
        let clientID = try table.requiredString("client_id")
        let secretFile = path(try table.requiredString("client_secret_file"))
        let scopes = try table.strings("scopes") ?? ["openid", "profile", "email"]
        guard scopes.contains("openid") else { throw table.error("scopes", "must include \"openid\"") }
        let groupsClaim = try table.string("groups_claim") ?? "groups"
        let trustRootsFile = try table.string("ca_file").map(path)
        if trustRootsFile != nil && scheme != "https" { throw table.error("ca_file", "applies to an https issuer only") }
        guard var rolesTable = try table.table("roles") else {
            throw table.error("roles", "is required: a [console.oidc.roles] table that maps the provider's groups to Accord roles (viewer, editor, approver, admin)")
        }
        var mapping: [String: Set<Role>] = [:]
        for group in rolesTable.keys {
            var roles: Set<Role> = []
            for name in try rolesTable.stringOrStrings(group) {
                guard let role = Role(rawValue: name) else {
                    throw rolesTable.error(group, "\"\(name)\" is not a role (viewer, editor, approver, admin)")
                }
                roles.insert(role)
            }
            mapping[group] = roles
        }
        guard !mapping.isEmpty else { throw rolesTable.error(nil, "maps no group: nobody could sign in") }
        try rolesTable.finish()
        try table.finish()
        return SignInConfiguration(
            issuer: issuer, clientID: clientID, clientSecretFile: secretFile, scopes: scopes, groupsClaim: groupsClaim,
            roles: RoleMapping(mapping), redirectURL: consoleURL + "/login/callback", trustRootsFile: trustRootsFile
        )
    }

    /// The client secret, read from its file (trailing whitespace dropped).
    func clientSecret(configurationFile: String) throws(ConfigurationError) -> String {
        let field = "console.oidc.client_secret_file"
        guard let data = FileManager.default.contents(atPath: clientSecretFile) else {
            throw ConfigurationError(file: configurationFile, field: field, "\(clientSecretFile) cannot be read")
        }
        let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty, !secret.contains("\n") else {
            throw ConfigurationError(file: configurationFile, field: field, "\(clientSecretFile) must hold the client secret on one line")
        }
        return secret
    }
}
