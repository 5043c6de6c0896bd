import AccordTestSupport
import Foundation

/// A real OpenID Connect provider process: oidc-provider-mock (PyPI) on a loopback port, with
/// the people the tests sign in. Its issuer is `http://localhost:PORT` (it takes the issuer from
/// the request's Host, so everyone must call it by that name). It signs ID tokens with RS256 and
/// a key it makes at start: a restart on the same port is a key rotation.
final class IdentityProviderServer: @unchecked Sendable {
    struct Person {
        let subject: String
        let name: String
        let email: String
        let groups: [String]

        var claims: String {
            let object: [String: Any] = ["sub": subject, "name": name, "email": email, "groups": groups]
            return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
        }
    }

    /// A certificate and key the provider serves https with, and the CA that issued them.
    struct ServerTLS {
        let certificate: String
        let key: String
        let authority: String

        /// A new CA in `folder` and a certificate from it for the DNS name `host`, made with
        /// the openssl command.
        static func make(in folder: String, host: String = "localhost", prefix: String = "provider") async throws -> ServerTLS {
            let (ca, caKey, key, request, certificate) = (
                "\(folder)/\(prefix)-ca.pem", "\(folder)/\(prefix)-ca.key", "\(folder)/\(prefix).key", "\(folder)/\(prefix).csr", "\(folder)/\(prefix).pem"
            )
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for arguments in [
                ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2",
                 "-subj", "/CN=Test identity provider CA (\(prefix))"],
                ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", request, "-subj", "/CN=\(host)"],
                ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", certificate, "-days", "2",
                 "-extfile", "/dev/stdin"],
            ] {
                let result = try await Subprocess.run(
                    "/bin/sh", ["-c", "printf 'subjectAltName=DNS:\(host)\\n' | openssl \"$@\"", "openssl"] + arguments, timeout: .seconds(30)
                )
                guard result.succeeded else { throw TestFailure("openssl \(arguments.joined(separator: " ")): \(result.stderr)") }
            }
            return ServerTLS(certificate: certificate, key: key, authority: ca)
        }
    }

    let port: Int
    let people: [Person]
    let folder = TestCertificates.temporaryFolder("accord-oidc")
    /// Serves https with these when set.
    let tls: ServerTLS?
    private var process: Subprocess?

    var issuer: String { "\(tls == nil ? "http" : "https")://localhost:\(port)" }

    init(port: Int, people: [Person], tls: ServerTLS? = nil) throws {
        self.port = port
        self.people = people
        self.tls = tls
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    /// The mock's command line, under uvicorn's TLS when `tls` is set (the mock then takes the
    /// scheme of its issuer from the request, as it takes the host).
    private static let launcher = """
        import functools, sys, uvicorn
        from oidc_provider_mock import __main__ as main
        certificate, key = sys.argv.pop(1), sys.argv.pop(1)
        uvicorn.run = functools.partial(uvicorn.run, ssl_certfile=certificate, ssl_keyfile=key)
        main.run()
        """

    /// Starts the provider and waits until its discovery document answers.
    func start() async throws {
        // The python3 on PATH, which the test command installed the package for.
        var arguments = ["python3"] + (tls.map { ["-c", Self.launcher, $0.certificate, $0.key] } ?? ["-m", "oidc_provider_mock"])
        arguments += ["--port", "\(port)", "--host", "127.0.0.1", "--token-max-age", "300"]
        for person in people { arguments += ["--user-claims", person.claims] }
        let process = try Subprocess.spawn("/usr/bin/env", arguments, stdout: "\(folder)/out.log", stderr: "\(folder)/err.log")
        self.process = process
        try await eventually("the identity provider answers", timeout: .seconds(30), every: .milliseconds(100)) {
            if let ended = try await process.wait(timeout: .zero) {
                throw TestFailure("oidc-provider-mock ended at start (\(ended)): \(self.log)")
            }
            // Up is all this asks: whether its certificate should be trusted is each test's question.
            return try await Curl.status("\(self.issuer)/.well-known/openid-configuration", insecure: self.tls != nil) == 200
        }
    }

    func stop() async {
        process?.signal(SIGKILL)
        _ = try? await process?.wait()
        process = nil
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }

    var log: String { (try? String(contentsOfFile: "\(folder)/err.log", encoding: .utf8)) ?? "" }
}

/// A browser as far as HTTP goes, through curl: a cookie jar of its own, no redirect followed,
/// each answer's status, `Location` and body.
struct Curl: Sendable {
    struct Answer: Sendable {
        let status: Int
        let location: String?
        let body: String
    }

    let jar: String
    /// The CA an https provider's certificate chains to, as a browser would trust it.
    var authority: String?

    init(authority: String? = nil) {
        jar = TestCertificates.temporaryFolder("accord-jar") + ".txt"
        self.authority = authority
    }

    func get(_ url: String) async throws -> Answer { try await request(url, []) }

    /// A form POST, with `Origin` as a browser sends it.
    func post(_ url: String, _ fields: [String: String], origin: String? = nil) async throws -> Answer {
        var arguments: [String] = []
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { arguments += ["--data-urlencode", "\(name)=\(value)"] }
        if let origin { arguments += ["-H", "Origin: \(origin)"] }
        return try await request(url, arguments)
    }

    /// The session cookie's value for a console on `port`, as the jar holds it.
    func cookie(_ name: String) -> String? {
        let text = (try? String(contentsOfFile: jar, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            if fields.count == 7, fields[5] == name { return String(fields[6]) }
        }
        return nil
    }

    /// Puts a cookie into the jar (an attacker who kept an old one).
    func setCookie(_ name: String, _ value: String, host: String = "localhost") throws {
        let line = "\(host)\tFALSE\t/\tFALSE\t0\t\(name)\t\(value)\n"
        let text = (try? String(contentsOfFile: jar, encoding: .utf8)) ?? "# Netscape HTTP Cookie File\n"
        let kept = text.split(separator: "\n").filter { $0.split(separator: "\t").dropFirst(5).first.map(String.init) != name }
        try (kept.joined(separator: "\n") + "\n" + line).write(toFile: jar, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: jar) }

    private func request(_ url: String, _ extra: [String]) async throws -> Answer {
        let arguments = ["--silent", "--show-error", "--max-time", "15", "-c", jar, "-b", jar, "-o", "-", "-w", "\n%{http_code} %{redirect_url}"]
            + (authority.map { ["--cacert", $0] } ?? []) + extra + [url]
        let result = try await Subprocess.run("/usr/bin/curl", arguments, timeout: .seconds(20))
        guard result.succeeded else { throw TestFailure("curl \(url): \(result.stderr)") }
        let lastLine = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
        let parts = lastLine.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        let body = String(result.stdout.dropLast(lastLine.count + 1))
        let location = parts.count > 1 && !parts[1].isEmpty ? String(parts[1]) : nil
        return Answer(status: Int(parts[0]) ?? 0, location: location, body: body)
    }

    /// The status of a GET without cookies.
    static func status(_ url: String, insecure: Bool = false) async throws -> Int {
        let trust = insecure ? ["--insecure"] : []
        let result = try await Subprocess.run(
            "/usr/bin/curl", ["--silent", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}"] + trust + [url], timeout: .seconds(10)
        )
        return Int(result.stdout) ?? 0
    }
}
