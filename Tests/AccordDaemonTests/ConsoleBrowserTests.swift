import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// The web console against real accordd processes: in headless Chromium driven by Selenium, and
/// over raw HTTP (Tests/Browser/console_test.py does the clicking and asserts; this starts the
/// nodes and hands it their addresses and fresh login tokens). Screenshots of each page are
/// written to .build/console-screenshots.
@Suite("Web console in a real browser", .serialized)
struct ConsoleBrowserTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Browser/console_test.py").path
    static let screenshots = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/console-screenshots").path

    /// Runs `console_test.py SUITE` against acme and globex with consoles, and fails with its output.
    private func run(_ suite: String) async throws {
        let nodes = try daemonMesh(["acme", "globex"])
        let consolePorts = try freePorts(nodes.count)
        for (node, port) in zip(nodes, consolePorts) { node.consolePort = port }
        try await withNodes(nodes) {
            for node in nodes { try await node.start() }
            _ = try await nodes[0].waitForSession(with: "globex/node1")
            var cluster: [String: Any] = ["accordctl": Binaries.accordctl, "screenshots": Self.screenshots]
            for node in nodes {
                var tokens: [String] = []
                for _ in 0..<3 { tokens.append(try await node.json("console-token", as: ConsoleToken.self).token) }
                cluster[node.organisation] = ["url": node.consoleURL!, "socket": node.socket, "tokens": tokens, "config": node.configFile]
            }
            let description = "\(nodes[0].folder)/cluster.json"
            try JSONSerialization.data(withJSONObject: cluster).write(to: URL(fileURLWithPath: description))
            let result = try await Subprocess.run("/usr/bin/env", ["python3", Self.script, suite, description], timeout: .seconds(360))
            print(result.stdout)
            #expect(result.succeeded, "console_test.py \(suite) failed:\n\(result.stdout)\n\(result.stderr)")
            if !result.succeeded { for node in nodes { print("--- \(node.label) log ---\n\(node.logTail)") } }
        }
    }

    @Test("log in; list and filter; open an agreement; approve on acme's and globex's consoles → active on both, live on acme's open page; an accordctl edit on globex appears without a reload; a <script> title renders inert; note, a claim of fulfilment; no CSRF token → 403; without JavaScript an approval of changed terms is refused and says so")
    func browser() async throws { try await run("browser") }

    @Test("the whole life of an agreement across acme's and globex's consoles: created on acme with a commitment → appears on globex → acme approves (with the keyboard alone) → globex moves the end → acme sees the change since its approval (and `accordctl agreements diff`) → both approve → active; a conflict made with the link cut, resolved in acme's console; acme claims its commitment, globex disputes, acme claims again, globex confirms; terminated after a confirmation; every page scanned by axe with no serious or critical violation")
    func lifecycle() async throws { try await run("lifecycle") }

    @Test("security: CSP and other headers on every answer; no session → redirect or 401; another Host → 421; wrong CSRF token → 403; tokens single-use; cross-origin login refused; slowloris cut off; failed logins throttled")
    func security() async throws { try await run("security") }
}
