import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// Sign-in to the console through a real OpenID Connect provider process, driven over real HTTP
/// as a browser would drive it (curl with a cookie jar, no redirect followed unseen), against a
/// real accordd: roles, sessions, sign-out, and the attacks on the flow.
@Suite("Console sign-in through an identity provider", .serialized)
struct SignInTests {
    static let people = [
        IdentityProviderServer.Person(subject: "alice", name: "Alice Chen", email: "alice@acme.example", groups: ["accord-approvers"]),
        IdentityProviderServer.Person(subject: "bob", name: "Bob Stone", email: "bob@acme.example", groups: ["accord-viewers"]),
        IdentityProviderServer.Person(subject: "carol", name: "Carol Reyes", email: "carol@acme.example", groups: ["marketing"]),
    ]

    /// A node with a console on `localhost` that signs people in through `provider`.
    static func node(provider: IdentityProviderServer) throws -> DaemonNode {
        let ports = try freePorts(2)
        let node = try DaemonNode("acme", port: ports[0])
        node.consolePort = ports[1]
        try "s3cret-for-the-mock\n".write(toFile: "\(node.folder)/oidc-secret", atomically: true, encoding: .utf8)
        node.extraConfiguration = """
            [console.oidc]
            issuer = "\(provider.issuer)"\(provider.tls.map { "\nca_file = \"\($0.authority)\"" } ?? "")
            client_id = "accord-console"
            client_secret_file = "oidc-secret"
            [console.oidc.roles]
            "accord-approvers" = "approver"
            "accord-viewers" = "viewer"
            """
        return node
    }

    /// Runs `body` with a provider and a node, both stopped and removed afterwards.
    static func withProviderAndNode(_ body: (IdentityProviderServer, DaemonNode) async throws -> Void) async throws {
        let provider = try IdentityProviderServer(port: try freePorts(1)[0], people: people)
        let node = try node(provider: provider)
        defer { provider.remove() }
        try await withNodes([node]) {
            try await provider.start()
            do {
                try await node.start()
                try await body(provider, node)
            } catch {
                print("--- oidc-provider-mock log ---\n\(provider.log.suffix(4000))")
                await provider.stop()
                throw error
            }
            await provider.stop()
        }
    }

    /// The console's origin as the browser uses it.
    static func console(_ node: DaemonNode) -> String { "http://localhost:\(node.consolePort!)" }

    /// Starts a sign-in in `browser`'s jar and has the provider sign `subject` in; returns the
    /// callback URL the provider sent the browser to (not yet visited).
    static func authorize(_ browser: Curl, _ node: DaemonNode, as subject: String) async throws -> String {
        let start = try await browser.get("\(console(node))/login/start")
        #expect(start.status == 303, "\(start.body)")
        let authorization = try #require(start.location)
        #expect(authorization.contains("code_challenge_method=S256") && authorization.contains("nonce=") && authorization.contains("state="))
        let consent = try await browser.post(authorization, ["sub": subject])
        #expect(consent.status == 302, "\(consent.body)")
        return try #require(consent.location)
    }

    /// Signs `subject` in with `browser`; returns the callback's answer.
    @discardableResult
    static func signIn(_ browser: Curl, _ node: DaemonNode, as subject: String) async throws -> Curl.Answer {
        try await browser.get(try await authorize(browser, node, as: subject))
    }

    static func csrf(_ page: String) throws -> String {
        let marker = "name=\"csrf\" value=\""
        let start = try #require(page.range(of: marker)).upperBound
        return String(page[start...].prefix { $0 != "\"" })
    }

    static func cookie(_ node: DaemonNode) -> String { "accord_session_\(node.consolePort!)" }

    @Test("Alice (approver) and Bob (viewer) sign in; Bob sees no approve control and his crafted approval gets 403; sessions are listed and ended; a signed-out cookie opens nothing")
    func rolesAndSessions() async throws {
        try await Self.withProviderAndNode { _, node in
            let agreement = try await node.createAgreement("GPU cluster sharing", parties: ["acme", "globex"])
            let (alice, bob) = (Curl(), Curl())
            defer { alice.remove(); bob.remove() }

            let signedIn = try await Self.signIn(alice, node, as: "alice")
            #expect(signedIn.status == 200 && signedIn.body.contains("Signed in as Alice Chen"), "\(signedIn.body)")
            let alicePage = try await alice.get("\(Self.console(node))/agreements/\(agreement)")
            #expect(alicePage.status == 200 && alicePage.body.contains("Alice Chen") && alicePage.body.contains("id=\"approve\""))

            try await Self.signIn(bob, node, as: "bob")
            let bobPage = try await bob.get("\(Self.console(node))/agreements/\(agreement)")
            #expect(bobPage.status == 200 && bobPage.body.contains("Bob Stone"))
            #expect(!bobPage.body.contains("id=\"approve\"") && !bobPage.body.contains("id=\"add-note\""), "a viewer is offered no action")
            // Bob crafts the approval Alice's page would send, with his own session's CSRF token.
            let terms: AgreementView = try await node.json("agreements", "show", agreement)
            let crafted = try await bob.post(
                "\(Self.console(node))/agreements/\(agreement)/approve", ["csrf": try Self.csrf(bobPage.body), "termsHash": terms.termsHash]
            )
            #expect(crafted.status == 403 && crafted.body.contains("needs the approver role"), "\(crafted.status) \(crafted.body)")
            let note = try await bob.post("\(Self.console(node))/agreements/\(agreement)/notes", ["csrf": try Self.csrf(bobPage.body), "text": "hi"])
            #expect(note.status == 403 && note.body.contains("needs the editor role"))
            #expect(try await node.json("agreements", "show", agreement, as: AgreementView.self).approvals.isEmpty, "nothing was approved")
            #expect(node.log.contains("reason=missing-role") || node.log.contains("\"reason\":\"missing-role\""), "the refusal is logged")

            // Alice approves through the console.
            let approved = try await alice.post(
                "\(Self.console(node))/agreements/\(agreement)/approve", ["csrf": try Self.csrf(alicePage.body), "termsHash": terms.termsHash]
            )
            #expect(approved.status == 303 && approved.location?.contains("notice=approved") == true, "\(approved.status) \(approved.body)")
            let shown = try await node.json("agreements", "show", agreement, as: AgreementView.self)
            #expect(shown.approvals.map(\.organisation) == ["acme"])
            #expect(shown.approvals.first?.by == "Alice Chen (acme) via acme/node1", "the approval names her")
            // The record says who: Alice, through the console; the creator, through the admin socket.
            let history: [HistoryItem] = try await node.json("agreements", "history", agreement)
            #expect(history.last?.by == "Alice Chen (acme) via acme/node1", "\(history.map(\.by))")
            #expect(history.last?.actor == ActorView(kind: "person", id: "alice", name: "Alice Chen", email: nil))
            let user = String(cString: getpwuid(geteuid())!.pointee.pw_name)
            #expect(history.first?.by == "local user \(user) (acme) via acme/node1", "\(history.map(\.by))")
            let timeline = try await alice.get("\(Self.console(node))/agreements/\(agreement)")
            #expect(timeline.body.contains("Alice Chen (acme) via acme/node1, "), "the history names her")

            // Operators see who is signed in, and can end a session.
            let sessions: [ConsoleSessionInfo] = try await node.json("console", "sessions")
            #expect(Set(sessions.map(\.subject)) == ["alice", "bob"])
            let bobSession = try #require(sessions.first { $0.subject == "bob" })
            #expect(bobSession.roles == ["viewer"] && bobSession.signIn == "oidc" && bobSession.name == "Bob Stone")
            #expect(sessions.first { $0.subject == "alice" }?.roles == ["approver"])
            #expect(try await node.ctl("console", "sessions", "--end", bobSession.handle).succeeded)
            let ended = try await bob.get("\(Self.console(node))/agreements")
            #expect(ended.status == 303 && ended.location?.hasSuffix("/login") == true, "an ended session opens nothing")
            #expect(!(try await node.ctl("console", "sessions", "--end", bobSession.handle).succeeded), "ending it twice is an error")

            // Sign-out: the cookie Alice had is worth nothing afterwards.
            let kept = try #require(alice.cookie(Self.cookie(node)))
            let overview = try await alice.get("\(Self.console(node))/")
            let out = try await alice.post("\(Self.console(node))/logout", ["csrf": try Self.csrf(overview.body)])
            #expect(out.status == 303)
            let thief = Curl()
            defer { thief.remove() }
            try thief.setCookie(Self.cookie(node), kept)
            let stolen = try await thief.get("\(Self.console(node))/agreements")
            #expect(stolen.status == 303 && stolen.location?.hasSuffix("/login") == true, "a cookie from before sign-out opens nothing")

            // Break-glass: a one-time token still signs in, as admin, and the log says so.
            let token: ConsoleToken = try await node.json("console", "token")
            let operator_ = Curl()
            defer { operator_.remove() }
            let login = try await operator_.post("\(Self.console(node))/login", ["token": token.token])
            #expect(login.status == 303)
            let listed: [ConsoleSessionInfo] = try await node.json("console", "sessions")
            #expect(listed.contains { $0.signIn == "token" && $0.roles == ["admin"] })
            #expect(node.log.contains("break-glass"))
        }
    }

    @Test("the flow's attacks: a replayed callback, a replayed code, a missing or unknown state, a callback in another browser, a person with no mapped group — each refused, logged and counted")
    func flowAttacks() async throws {
        try await Self.withProviderAndNode { _, node in
            let alice = Curl()
            let other = Curl()
            defer { alice.remove(); other.remove() }
            let callback = try await Self.authorize(alice, node, as: "alice")
            #expect(try await alice.get(callback).status == 200)
            // The same callback again: its state is spent.
            let replayed = try await alice.get(callback)
            #expect(replayed.status == 401 && replayed.body.contains("unknown, used already"), "\(replayed.body)")

            // The old code with a fresh, genuine state: the provider refuses a spent code.
            let fresh = try #require(URLComponents(string: try await Self.authorize(alice, node, as: "alice"))?.queryItems)
            let oldCode = try #require(URLComponents(string: callback)?.queryItems?.first { $0.name == "code" }?.value)
            let freshState = try #require(fresh.first { $0.name == "state" }?.value)
            let spent = try await alice.get("\(Self.console(node))/login/callback?code=\(oldCode)&state=\(freshState)")
            #expect(spent.status == 401 && spent.body.contains("did not redeem the code"), "\(spent.body)")

            #expect(try await alice.get("\(Self.console(node))/login/callback?code=abc").status == 400, "no state")
            let unknown = try await alice.get("\(Self.console(node))/login/callback?code=abc&state=made-up")
            #expect(unknown.status == 401 && unknown.body.contains("unknown"))

            // A callback planted on another browser (login CSRF): that browser did not start it.
            let planted = try await Self.authorize(alice, node, as: "alice")
            let victim = try await other.get(planted)
            #expect(victim.status == 401 && victim.body.contains("started in another browser"), "\(victim.body)")
            #expect(other.cookie(Self.cookie(node)) == nil)

            // Carol is known to the provider but in no group the node maps.
            let carol = try await Self.signIn(Curl(), node, as: "carol")
            #expect(carol.status == 403 && carol.body.contains("no group"), "\(carol.body)")
            #expect(!(try await node.json("console", "sessions", as: [ConsoleSessionInfo].self)).contains { $0.subject == "carol" })

            let metrics = try await node.ctl("metrics")
            for reason in ["state-unknown", "code-refused", "browser-mismatch", "no-role"] {
                #expect(metrics.stdout.contains("reason=\"\(reason)\""), "\(reason) is counted")
                #expect(node.log.contains(reason), "\(reason) is logged")
            }
        }
    }

    @Test("in Chromium: Alice (approver) and Bob (viewer) sign in through the provider; Bob has no approve control and his crafted request gets 403; Alice registers a passkey and approves with it (Bob's passkey and assertions over other terms are refused); globex's node shows the approval as Alice Chen's of acme, and its evidence bundle proves her signature")
    func browser() async throws {
        let provider = try IdentityProviderServer(port: try freePorts(1)[0], people: Self.people)
        defer { provider.remove() }
        let ports = try freePorts(3)
        let acme = try Self.node(provider: provider)
        acme.extraConfiguration += "\n[approvals]\nrequire_passkey = true\n"
        let globex = try DaemonNode("globex", port: ports[0])
        acme.peers = [globex.address]
        globex.peers = [acme.address]
        try await withNodes([acme, globex]) {
            try await provider.start()
            do {
                try await acme.start()
                try await globex.start()
                _ = try await acme.waitForSession(with: "globex/node1")
                let agreement = try await acme.createAgreement("GPU cluster sharing", parties: ["acme", "globex"])
                let cluster: [String: Any] = [
                    "accordctl": Binaries.accordctl, "screenshots": ConsoleBrowserTests.screenshots, "provider": provider.issuer, "agreement": agreement,
                    "acme": ["url": Self.console(acme), "socket": acme.socket], "globex": ["url": "", "socket": globex.socket],
                ]
                let description = "\(acme.folder)/cluster.json"
                try JSONSerialization.data(withJSONObject: cluster).write(to: URL(fileURLWithPath: description))
                let result = try await Subprocess.run("/usr/bin/env", ["python3", ConsoleBrowserTests.script, "people", description], timeout: .seconds(240))
                print(result.stdout)
                #expect(result.succeeded, "console_test.py people failed:\n\(result.stdout)\n\(result.stderr)")
            } catch {
                print("--- oidc-provider-mock log ---\n\(provider.log.suffix(4000))")
                await provider.stop()
                throw error
            }
            await provider.stop()
        }
    }

    @Test("an https provider whose CA is in ca_file: Alice signs in; one whose certificate names another host, or chains to a CA the node does not trust, is refused at the start of a sign-in with OpenSSL's reason")
    func httpsProvider() async throws {
        let folder = TestCertificates.temporaryFolder("accord-oidc-tls")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let genuine = try await IdentityProviderServer.ServerTLS.make(in: folder)
        let elsewhere = try await IdentityProviderServer.ServerTLS.make(in: folder, host: "elsewhere.example", prefix: "elsewhere")
        let stranger = try await IdentityProviderServer.ServerTLS.make(in: folder, prefix: "stranger")
        // What the provider serves, and the CA the node trusts for it.
        for (served, trusted, refusal) in [
            (genuine, genuine.authority, nil), (elsewhere, elsewhere.authority, "hostname mismatch"),
            (genuine, stranger.authority, "unable to get local issuer certificate"),
        ] {
            let provider = try IdentityProviderServer(port: try freePorts(1)[0], people: Self.people, tls: served)
            defer { provider.remove() }
            let node = try Self.node(provider: IdentityProviderServer(port: provider.port, people: [], tls: IdentityProviderServer.ServerTLS(
                certificate: served.certificate, key: served.key, authority: trusted
            )))
            try await withNodes([node]) {
                try await provider.start()
                do {
                    try await node.start()
                    let browser = Curl(authority: served.authority)
                    defer { browser.remove() }
                    if let refusal {
                        let start = try await browser.get("\(Self.console(node))/login/start")
                        #expect(start.status == 502 && start.body.contains(refusal), "\(start.status) \(start.body)")
                        #expect(node.log.contains("provider-error"), "the refusal is logged with its reason")
                    } else {
                        let signedIn = try await Self.signIn(browser, node, as: "alice")
                        #expect(signedIn.status == 200 && signedIn.body.contains("Signed in as Alice Chen"), "\(signedIn.body)")
                        #expect(provider.issuer.hasPrefix("https://localhost:"))
                    }
                } catch {
                    print("--- oidc-provider-mock log ---\n\(provider.log.suffix(4000))")
                    await provider.stop()
                    throw error
                }
                await provider.stop()
            }
        }
    }

    @Test("the provider rotates its key (a restart makes a new one): the next sign-in fetches the keys again and succeeds")
    func keyRotation() async throws {
        try await Self.withProviderAndNode { provider, node in
            let browser = Curl()
            defer { browser.remove() }
            #expect(try await Self.signIn(browser, node, as: "alice").status == 200)
            let fetched = ContinuousClock.now
            await provider.stop()
            try await provider.start()
            // Keys are fetched again at most every 10 s (so forged tokens cannot make the node
            // hammer the provider): the first sign-in after that refetches.
            try await Task.sleep(until: fetched + .seconds(10))
            let again = try await Self.signIn(browser, node, as: "alice")
            #expect(again.status == 200, "\(again.body)")
            #expect(node.log.components(separatedBy: "identity provider keys fetched").count == 3, "fetched twice")
        }
    }
}
