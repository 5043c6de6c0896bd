public import Foundation

/// Where the repository's certificate material is, and a way to mint more with the operators' own
/// script (certs-example/make-certs.sh) for tests that need revoked, expired or foreign
/// certificates.
public enum TestCertificates {
    /// The repository's root folder.
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    /// The published example set: a CA, acme, globex and initech node1 (keys are public: tests
    /// only). Git keeps no file modes, and accordd refuses a key other users can read: the keys
    /// are made owner-only first.
    public static let examples: String = {
        let folder = "\(repository)/certs-example/example"
        ownerOnlyKeys(in: folder)
        return folder
    }()

    /// Makes every `*.key` in `folder` readable by its owner only (mode 0600).
    public static func ownerOnlyKeys(in folder: String) {
        for file in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where file.hasSuffix(".key") {
            chmod("\(folder)/\(file)", 0o600)
        }
    }
    public static let makeCerts = "\(repository)/certs-example/make-certs.sh"

    /// Runs make-certs.sh with `arguments` (e.g. `["-o", folder, "acme:node1"]`).
    public static func make(_ arguments: [String]) async throws {
        try await shell(makeCerts, arguments)
    }

    /// Runs a bash script (or a bash command with `-c`), failing with what it printed on error.
    /// The script runs as a child process that is polled, so no thread of the caller's blocks.
    /// - Parameter environment: set on top of this process's environment.
    public static func shell(_ script: String, _ arguments: [String] = [], environment: [String: String] = [:]) async throws {
        let result = try await Subprocess.run("/bin/bash", [script] + arguments, environment: environment)
        guard result.succeeded else {
            throw TestFailure("\(([script] + arguments).joined(separator: " ")): \(result.termination): \(result.stderr)")
        }
    }

    /// `date` as make-certs.sh's --start and --end take it (YYYYMMDDHHMMSSZ, UTC).
    public static func validityDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: date)
    }

    /// A new folder under the temporary directory, for minted certificates.
    public static func temporaryFolder(_ prefix: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    }
}

/// A consortium PKI minted once per test process with the operators' own script, holding every
/// kind of certificate a node must refuse: a consortium CA with nodes of acme, globex and
/// initech; a revoked node of each of acme and globex and a revocation list naming them; an
/// expired and a not-yet-valid acme node; an acme node that is itself a CA and one with an RSA
/// key; and another CA ("Rogue CA") that signs an acme node of the same name.
public final class HostilePKI: Sendable {
    /// The one PKI of this test process, minted by the first test that asks for it (the others
    /// wait for it).
    public static var shared: HostilePKI {
        get async throws { try await minting.value }
    }

    private static let minting = Task { try await HostilePKI() }

    /// `ca.pem`, `crl.pem`, `ORG-NODE.pem`/`.key` of the consortium.
    public let consortium: String
    /// The rogue CA's folder: `ca.pem`, `acme-node1.pem`/`.key`.
    public let rogue: String

    private init() async throws {
        let directory = TestCertificates.temporaryFolder("accord-pki")
        consortium = directory + "/consortium"
        rogue = directory + "/rogue"
        try await TestCertificates.make(["-o", consortium, "-d", "30", "acme:node1,revoked", "globex:node1,node2,revoked", "initech:node1,node2"])
        try await TestCertificates.make(["-o", consortium, "--start", "20200101000000Z", "--end", "20210101000000Z", "acme:expired"])
        try await TestCertificates.make(["-o", consortium, "--start", "20450101000000Z", "--end", "20460101000000Z", "acme:future"])
        try await TestCertificates.make(["-o", consortium, "--revoke", "acme-revoked"])
        try await TestCertificates.make(["-o", consortium, "--revoke", "globex-revoked"])
        try await TestCertificates.make(["-o", rogue, "--ca-name", "Rogue CA", "acme:node1"])
        // Node certificates from the consortium CA that Accord must still refuse: one that is a
        // CA itself, one with an RSA key. make-certs.sh makes neither, so openssl does.
        try await TestCertificates.shell("-c", [
            """
            set -e; cd '\(consortium)'
            printf 'basicConstraints=critical,CA:TRUE\\nextendedKeyUsage=serverAuth,clientAuth\\nsubjectAltName=IP:127.0.0.1\\n' > ca-node.ext
            printf 'basicConstraints=critical,CA:FALSE\\nextendedKeyUsage=serverAuth,clientAuth\\nsubjectAltName=IP:127.0.0.1\\n' > rsa-node.ext
            openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout acme-ca.key -out acme-ca.csr -subj /O=acme/CN=ca 2>/dev/null
            openssl x509 -req -in acme-ca.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile ca-node.ext -out acme-ca.pem 2>/dev/null
            openssl req -new -newkey rsa:2048 -nodes -keyout acme-rsa.key -out acme-rsa.csr -subj /O=acme/CN=rsa 2>/dev/null
            openssl x509 -req -in acme-rsa.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile rsa-node.ext -out acme-rsa.pem 2>/dev/null
            """,
        ])
    }

    public var caPath: String { consortium + "/ca.pem" }
    public var crlPath: String { consortium + "/crl.pem" }

    /// `ORG-NODE` + `.pem` or `.key`, of the consortium (or the rogue CA).
    public func path(_ node: String, _ suffix: String, rogue: Bool = false) -> String {
        (rogue ? self.rogue : consortium) + "/" + node + suffix
    }
}
