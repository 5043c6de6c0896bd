import AccordDaemon
import AccordModel
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
