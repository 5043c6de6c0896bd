import AccordDaemon
import AccordModel
import AccordPeople
import AccordSync
import Foundation
import Testing

/// The configuration parser on its own (the daemon's refusals are in StartupErrorTests).
@Suite("Daemon configuration")
struct ConfigurationTests {
    static let minimal = """
        [node]
        organisation = "acme"
        name = "node1"
        data_directory = "data"
        [listen]
        address = "[::1]:7401"
        [tls]
        certificate = "certs/node.pem"
        private_key = "/etc/accord/node.key"
        ca = "certs/ca.pem"
        [admin]
        socket = "run/admin.sock"
        [[peers]]
        organisation = "globex"
        address = "accord.globex.example:7400"
        """

    static let signIn = """
        [console]
        address = "127.0.0.1:7501"
        [console.oidc]
        issuer = "http://localhost:9400"
        client_id = "accord-console"
        client_secret_file = "oidc-secret"
        [console.oidc.roles]
        "legal" = ["editor", "approver"]
        """

    @Test("[console.oidc]: the provider, the client, the role mapping; the callback on the console's URL")
    func parsesSignIn() throws {
        let configuration = try DaemonConfiguration.parse(Self.minimal.replacing("[[peers]]", with: Self.signIn + "\n\"accord-viewers\" = \"viewer\"\n[[peers]]"), file: "/etc/accord/accordd.toml")
        let signIn = try #require(configuration.signIn)
        #expect(signIn.issuer == "http://localhost:9400" && signIn.clientID == "accord-console")
        #expect(signIn.clientSecretFile == "/etc/accord/oidc-secret")
        #expect(signIn.scopes == ["openid", "profile", "email"] && signIn.groupsClaim == "groups")
        #expect(signIn.roles.groups == ["legal": [.editor, .approver], "accord-viewers": [.viewer]])
        #expect(signIn.redirectURL == "http://localhost:7501/login/callback", "a loopback console is reached as localhost")
        #expect(configuration.consoleURL == "http://localhost:7501")
    }

    @Test("a '}' after '[' or ',' inside a string or a comment is only text")
    func bracesInStrings() throws {
        let text = Self.minimal
            .replacing("data_directory = \"data\"", with: "data_directory = \"data[ }\" # a = [ }\n# b = [1, }")
            .replacing("[admin]", with: "[admin] # [ , }")
        #expect(try DaemonConfiguration.parse(text, file: "/etc/accord/accordd.toml").dataDirectory == "/etc/accord/data[ }")
    }

    @Test("relative paths are taken from the file's folder; defaults fill what is left out")
    func parsesMinimal() throws {
        let configuration = try DaemonConfiguration.parse(Self.minimal, file: "/etc/accord/accordd.toml")
        #expect(configuration.node == NodeID(organisation: "acme", name: "node1"))
        #expect(configuration.dataDirectory == "/etc/accord/data")
        #expect(configuration.certificate == "/etc/accord/certs/node.pem")
        #expect(configuration.privateKey == "/etc/accord/node.key")
        #expect(configuration.adminSocket == "/etc/accord/run/admin.sock")
        #expect(configuration.adminSocketMode == 0o600)
        #expect((configuration.listenHost, configuration.listenPort) == ("::1", 7401))
        #expect(configuration.peers.map(\.description) == ["globex at accord.globex.example:7400"])
        #expect(configuration.reconcileInterval == .seconds(300))
        #expect(configuration.revocationList == nil)
    }

    @Test("each problem names its field", arguments: [
        ("organisation = \"acme\"", "organisation = \"\"", "node.organisation: must not be empty"),
        ("address = \"[::1]:7401\"", "address = \"[::1]:99999\"", "listen.address"),
        ("address = \"accord.globex.example:7400\"", "address = 7400", "peers[0].address: expected a string, found int"),
        ("organisation = \"globex\"", "organisation = \"\"", "peers[0].organisation: must not be empty"),
        ("[admin]", "[admin]\nsocket_mode = \"0606\"", "admin.socket_mode"),
        ("[[peers]]", "[sync]\nkeepalive_seconds = 60\nidle_timeout_seconds = 30\n[[peers]]", "sync.idle_timeout_seconds: must be longer"),
        ("[[peers]]", "[sync]\nreconcile_interval_seconds = 0\n[[peers]]", "sync.reconcile_interval_seconds: 0 is out of range"),
        ("[[peers]]", "[peers]", "peers: expected an array of tables"),
        // Found by accord-fuzz: toml++ aborted on this instead of reporting an error.
        ("[node]", "[\u{FFFD}\n[node]", "replacement character (U+FFFD) at line 1"),
        ("[node]", "[;\n[node]", "line 1: a table header holds names"),
        ("[listen]", "[listen. ;]", "a table header holds names"),
        ("[admin]", "[\n[admin]", "line 11: a table header without a name"),
        ("[admin]", "#\"\"\"\n[\no(rs]]\n[admin]", "line 12: a table header without a name"),
        ("[admin]", "[\u{0300}\n[admin]", "line 11: a table header holds names"),
        // Found by accord-fuzz: toml++ asserted on a '}' where an array's value belongs.
        ("socket = \"run/admin.sock\"", "socket =[  }un/accord/admin.sock\"", "line 12: '}' where a value belongs (after '[')"),
        ("[admin]", "a = [1, # one\n }\n[admin]", "line 12: '}' where a value belongs (after ',')"),
        ("[admin]", "a = { b = [[}]] }\n[admin]", "'}' where a value belongs"),
        // Sign-in through an identity provider.
        ("[[peers]]", Self.signIn.replacing("http://localhost:9400", with: "ftp://login.acme.example") + "\n[[peers]]", "console.oidc.issuer: \"ftp://login.acme.example\" is not an http(s) URL"),
        ("[[peers]]", Self.signIn.replacing("[console.oidc]", with: "[console.oidc]\nca_file = \"ca.pem\"") + "\n[[peers]]", "console.oidc.ca_file: applies to an https issuer only"),
        // Passkeys are made at a host name.
        ("[[peers]]", "[approvals]\nrequire_passkey = true\n[[peers]]", "approvals.require_passkey: passkeys are made in the web console"),
        ("[[peers]]", "[approvals]\nrequire_passkey = \"yes\"\n[[peers]]", "approvals.require_passkey: expected true or false"),
        ("[[peers]]", Self.signIn.replacing("http://localhost:9400", with: "http://login.acme.example") + "\n[[peers]]", "only a provider on this machine"),
        ("[[peers]]", Self.signIn.replacing("\"legal\" = [\"editor\", \"approver\"]", with: "legal = \"lawyer\"") + "\n[[peers]]", "console.oidc.roles.legal: \"lawyer\" is not a role"),
        ("[[peers]]", Self.signIn.replacing("[console.oidc.roles]\n\"legal\" = [\"editor\", \"approver\"]", with: "") + "\n[[peers]]", "console.oidc.roles: is required"),
        ("[[peers]]", Self.signIn.replacing("client_id = \"accord-console\"", with: "client = \"x\"") + "\n[[peers]]", "console.oidc.client_id: is required (console.oidc.client is not an option"),
        ("[[peers]]", Self.signIn.replacing("[console.oidc]", with: "[console.oidc]\nscopes = [\"email\"]") + "\n[[peers]]", "console.oidc.scopes: must include \"openid\""),
        ("[[peers]]", Self.signIn.replacing("address = \"127.0.0.1:7501\"", with: "address = \"127.0.0.1:7501\"\nurl = \"http://localhost:7501/console\"") + "\n[[peers]]", "console.url"),
    ])
    func namesTheField(original: String, replacement: String, expected: String) {
        let text = Self.minimal.replacingOccurrences(of: original, with: replacement)
        #expect(throws: ConfigurationError.self) { try DaemonConfiguration.parse(text, file: "/etc/accord/accordd.toml") }
        do {
            _ = try DaemonConfiguration.parse(text, file: "/etc/accord/accordd.toml")
        } catch {
            #expect("\(error)".hasPrefix("/etc/accord/accordd.toml: "), "\(error)")
            #expect("\(error)".contains(expected), "\(error)")
        }
    }
}
