/// `POST /v1/reload`: what re-reading the configuration changed.
public struct ReloadResult: Codable, Sendable {
    /// Peers (`ORGANISATION at HOST:PORT`) dialled from now on.
    public var peersAdded: [String]
    /// Peers no longer dialled; the sessions of organisations no longer configured were closed.
    public var peersRemoved: [String]
    /// Whether new sessions present another certificate than before.
    public var certificateRenewed: Bool
    /// Nodes the new revocation list revokes that the old one did not.
    public var newlyRevoked: [String]
    public var sessionsClosed: [ClosedSession]

    public init(peersAdded: [String], peersRemoved: [String], certificateRenewed: Bool, newlyRevoked: [String], sessionsClosed: [ClosedSession]) {
        self.peersAdded = peersAdded
        self.peersRemoved = peersRemoved
        self.certificateRenewed = certificateRenewed
        self.newlyRevoked = newlyRevoked
        self.sessionsClosed = sessionsClosed
    }
}

public struct ClosedSession: Codable, Sendable, Hashable {
    public var node: String
    /// `certificate-revoked` or `peer-removed`.
    public var reason: String

    public init(node: String, reason: String) {
        self.node = node
        self.reason = reason
    }
}

/// `POST /v1/backup`: where to write the snapshot.
public struct BackupRequest: Codable, Sendable {
    /// An absolute path, on the daemon's machine, that must not exist yet.
    public var path: String

    public init(path: String) { self.path = path }
}

/// A snapshot written and checked.
public struct BackupResult: Codable, Sendable {
    public var path: String
    public var bytes: Int64
    /// The last sequence of this node's log the snapshot holds: every change acknowledged up to
    /// it is in the snapshot.
    public var lastSequence: Int64
    public var agreements: Int
    public var changes: Int

    public init(path: String, bytes: Int64, lastSequence: Int64, agreements: Int, changes: Int) {
        self.path = path
        self.bytes = bytes
        self.lastSequence = lastSequence
        self.agreements = agreements
        self.changes = changes
    }
}

/// A certificate's identity and lifetime, as `status` shows it.
public struct CertificateStatus: Codable, Sendable, Hashable {
    /// `organisation/name`.
    public var node: String
    public var fingerprint: String
    public var notAfter: String
    public var daysLeft: Double
    /// Expires within the warning period (30 days) or has expired.
    public var expiresSoon: Bool
    /// When the consortium's revocation list revoked it; nil if it is not revoked.
    public var revokedAt: String?

    public init(node: String, fingerprint: String, notAfter: String, daysLeft: Double, expiresSoon: Bool, revokedAt: String? = nil) {
        self.node = node
        self.fingerprint = fingerprint
        self.notAfter = notAfter
        self.daysLeft = daysLeft
        self.expiresSoon = expiresSoon
        self.revokedAt = revokedAt
    }
}

/// One certificate revocation list in force (`[tls] crl`): a list past its `nextUpdate` has
/// expired, and OpenSSL would refuse every certificate it judges (docs/operations.md, "Refresh
/// the revocation list").
public struct RevocationListStatus: Codable, Sendable, Hashable {
    /// The issuing CA, as "/O=…/CN=…".
    public var issuer: String
    /// The file it was read from.
    public var file: String
    public var lastUpdate: String
    /// Nil for a list without a next update.
    public var nextUpdate: String?
    public var daysLeft: Double?
    public var expired: Bool

    public init(issuer: String, file: String, lastUpdate: String, nextUpdate: String?, daysLeft: Double?, expired: Bool) {
        self.issuer = issuer
        self.file = file
        self.lastUpdate = lastUpdate
        self.nextUpdate = nextUpdate
        self.daysLeft = daysLeft
        self.expired = expired
    }
}

/// `POST /v1/console/tokens` with `{"validMinutes": N}` (1–1440, default 60) or empty.
public struct ConsoleTokenRequest: Codable, Sendable {
    public var validMinutes: Int?

    public init(validMinutes: Int? = nil) { self.validMinutes = validMinutes }
}

/// A single-use login token for the web console.
public struct ConsoleToken: Codable, Sendable {
    public var token: String
    public var expiresAt: String
    /// The console's login page.
    public var url: String

    public init(token: String, expiresAt: String, url: String) {
        self.token = token
        self.expiresAt = expiresAt
        self.url = url
    }
}

/// `GET /v1/agreements/{id}/evidence`: the files of an evidence bundle (docs/evidence.md).
public struct EvidenceResponse: Codable, Sendable {
    public struct File: Codable, Sendable {
        /// Relative to the bundle's folder, `/`-separated.
        public var path: String
        public var base64: String
        public var executable: Bool

        public init(path: String, base64: String, executable: Bool) {
            self.path = path
            self.base64 = base64
            self.executable = executable
        }
    }

    public var agreement: String
    public var files: [File]

    public init(agreement: String, files: [File]) {
        self.agreement = agreement
        self.files = files
    }
}

/// `GET /v1/due?within=DAYS&overdue=true`: open commitments due and agreements expiring within
/// `DAYS` (30 by default) of today, and those already past, by date.
public struct DeadlinesResponse: Codable, Sendable {
    /// How far ahead `within` may look.
    public static let lookAhead = 0...3650

    /// `within` as accordctl and the query take it, `30d` or `30`; nil if it is not a number of
    /// days in `lookAhead`.
    public static func days(within text: String) -> Int? {
        guard let days = Int(text.hasSuffix("d") ? String(text.dropLast()) : text), lookAhead.contains(days) else { return nil }
        return days
    }

    public struct Deadline: Codable, Sendable {
        /// `commitment` (its due date) or `expiry` (the agreement's).
        public var kind: String
        public var date: String
        /// Negative once the date has passed.
        public var daysLeft: Int
        public var overdue: Bool
        public var agreement: String
        public var title: String?
        public var commitment: String?
        public var owner: String?
        public var description: String?
        /// For a recurring commitment, the period (its date, as steps name it).
        public var period: String?
        /// For a commitment: `open`, `claimed` (waiting for a party owed to confirm) or `disputed`.
        public var state: String?

        public init(
            kind: String, date: String, daysLeft: Int, agreement: String, title: String?, commitment: String?, owner: String?,
            description: String?, period: String? = nil, state: String? = nil
        ) {
            self.period = period
            self.state = state
            self.kind = kind
            self.date = date
            self.daysLeft = daysLeft
            self.overdue = daysLeft < 0
            self.agreement = agreement
            self.title = title
            self.commitment = commitment
            self.owner = owner
            self.description = description
        }
    }

    public var today: String
    public var through: String
    public var deadlines: [Deadline]

    public init(today: String, through: String, deadlines: [Deadline]) {
        self.today = today
        self.through = through
        self.deadlines = deadlines
    }
}

/// A signed-in console session, as `GET /v1/console/sessions` lists it. Never the session's
/// secret: `handle` names it for `DELETE /v1/console/sessions/{handle}`.
public struct ConsoleSessionInfo: Codable, Sendable, Equatable {
    public var handle: String
    /// The identity provider's subject, or "token" for a break-glass sign-in.
    public var subject: String
    public var name: String?
    public var email: String?
    public var roles: [String]
    /// "oidc" or "token".
    public var signIn: String
    public var source: String
    public var openedAt: String
    public var idleSeconds: Int

    public init(
        handle: String, subject: String, name: String?, email: String?, roles: [String], signIn: String, source: String, openedAt: String,
        idleSeconds: Int
    ) {
        self.handle = handle
        self.subject = subject
        self.name = name
        self.email = email
        self.roles = roles
        self.signIn = signIn
        self.source = source
        self.openedAt = openedAt
        self.idleSeconds = idleSeconds
    }
}

/// The answer to ending a console session.
public struct ConsoleSessionEnded: Codable, Sendable {
    public var handle: String
    public init(handle: String) { self.handle = handle }
}
