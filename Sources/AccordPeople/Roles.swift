/// What a person may do in the console (and through any API call made on their behalf).
///
/// Each role grants its own actions and reading; `admin` grants everything, since whoever
/// operates the node can act for it anyway. An approver is not an editor: the four-eyes rule
/// many organisations keep (one drafts, another signs) is a mapping of two groups.
public enum Role: String, Sendable, CaseIterable, Comparable, Codable {
    /// Reads agreements, history and conflicts.
    case viewer
    /// Creates agreements, edits terms, writes notes, updates commitments.
    case editor
    /// Approves and terminates agreements.
    case approver
    /// Node operations; every other role's actions.
    case admin

    public static func < (lhs: Role, rhs: Role) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// The roles a set of roles grants: `admin` grants all; every role grants `viewer`.
public struct RoleSet: Sendable, Equatable, CustomStringConvertible {
    public let roles: Set<Role>

    public init(_ roles: some Sequence<Role>) { self.roles = Set(roles) }

    public func grants(_ role: Role) -> Bool {
        roles.contains(role) || roles.contains(.admin) || (role == .viewer && !roles.isEmpty)
    }

    public var isEmpty: Bool { roles.isEmpty }

    public var description: String { roles.isEmpty ? "no role" : roles.sorted().map(\.rawValue).joined(separator: ", ") }
}

/// Which of the identity provider's groups (or roles) give which Accord roles: the
/// `[console.oidc.roles]` table, one group per key.
public struct RoleMapping: Sendable, Equatable {
    public let groups: [String: Set<Role>]

    public init(_ groups: [String: Set<Role>]) { self.groups = groups }

    /// The roles the groups `memberOf` give; a person in no mapped group has none and cannot sign in.
    public func roles(memberOf memberships: [String]) -> RoleSet {
        RoleSet(memberships.flatMap { groups[$0] ?? [] })
    }
}
