import AccordAdminAPI
import AccordTestSupport
import Foundation
import Testing

/// Nodes met once and gone: `sync --wait` judges only nodes that can answer, `peers` lists every
/// node met with its last contact, `peers forget` drops one.
@Suite("Peers met, waited for and forgotten", .serialized)
struct PeerMembershipTests {
    @Test("after a second initech node connected once and left, sync --wait on acme still succeeds; peers shows it with its last contact; peers forget drops it, but never a connected node")
    func secondNodeMetOnce() async throws {
        let nodes = try daemonMesh(["acme", "globex", "initech"])
        let pki = try await HostilePKI.shared
        for node in nodes { node.certificates = pki.consortium }
        let (acme, initech) = (nodes[0], nodes[2])
        let visitor = try DaemonNode("initech", name: "node2", port: try freePorts(1)[0])
        visitor.certificates = pki.consortium
        visitor.peers = [acme.address]
        try await withNodes(nodes + [visitor]) {
            for node in nodes { try await node.start() }
            try await visitor.start()
            try await eventually("initech/node2 is in session with acme") {
                let peers: [PeerStatus] = try await acme.json("peers")
                return peers.contains { $0.node == "initech/node2" && $0.connected }
            }
            let connected = try await acme.json("peers", as: [PeerStatus].self).filter(\.connected)
            #expect(!connected.isEmpty && connected.allSatisfy { $0.protocolVersion == 5 }, "sessions of this release speak version 5")
            try await visitor.stop()
            try await eventually("acme sees initech/node2 gone") {
                let peers: [PeerStatus] = try await acme.json("peers")
                return peers.contains { $0.node == "initech/node2" && !$0.connected }
            }

            let wait = try await acme.ctl("sync", "--wait", "--timeout", "60")
            #expect(wait.succeeded, "sync --wait: \(wait.stdout) \(wait.stderr)")
            let peers: [PeerStatus] = try await acme.json("peers")
            let gone = try #require(peers.first { $0.node == "initech/node2" })
            #expect(!gone.awaited && gone.lastContact != nil)
            #expect(gone.address == nil, "the second node is not at the configured address")
            // initech/node1 may have dialled in while acme's dials to it were still failing (it
            // started later) and backing off: its address shows once acme has met it there.
            try await eventually("acme has met initech/node1 at its configured address", timeout: .seconds(60)) {
                try await acme.json("peers", as: [PeerStatus].self).first { $0.node == "initech/node1" }?.address == "127.0.0.1:\(initech.port)"
            }
            #expect(peers.filter(\.connected).allSatisfy { $0.awaited })
            let listed = try await acme.ctl("peers")
            #expect(listed.stdout.contains("initech/node2") && listed.stdout.contains("last contact"), "\(listed.stdout)")

            let refused = try await acme.ctl("peers", "forget", "initech/node1")
            #expect(refused.termination == .exited(1) && refused.stderr.contains("is connected"), "\(refused.stderr)")
            let forgotten = try await acme.ctl("peers", "forget", "initech/node2")
            #expect(forgotten.succeeded && forgotten.stdout.contains("forgot initech/node2"), "\(forgotten.stderr)")
            let after: [PeerStatus] = try await acme.json("peers")
            #expect(!after.contains { $0.node == "initech/node2" })
            let unknown = try await acme.ctl("peers", "forget", "initech/node9")
            #expect(unknown.termination == .exited(1) && unknown.stderr.contains("never met"), "\(unknown.stderr)")

            // When every node of a configured organisation is gone, sync --wait says so.
            try await initech.stop()
            let waiting = try await acme.ctl("sync", "--wait", "--timeout", "3")
            #expect(waiting.termination == .exited(3) && waiting.stderr.contains("initech/node1 not connected"), "\(waiting.stderr)")
        }
    }
}

/// The admin socket is never reachable by others, whatever the umask accordd starts with.
@Suite("Admin socket permissions", .serialized)
struct AdminSocketPermissionTests {
    @Test("started with umask 000, accordd's admin socket is never connectable by another user, not even for a moment", .enabled(if: getuid() == 0, "needs root to probe as another user"))
    func umaskRace() async throws {
        let node = try DaemonNode("acme", port: try freePorts(1)[0])
        try await withNodes([node]) {
            // Another user (nobody) tries to connect from before the daemon starts until it answers.
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: node.folder)
            let probe = "\(node.folder)/probe.py"
            try """
                import socket, sys, time
                deadline = time.time() + 20
                while time.time() < deadline:
                    s = socket.socket(socket.AF_UNIX)
                    try:
                        s.connect(sys.argv[1])
                        print("connected"); sys.exit(0)
                    except OSError:
                        pass
                    finally:
                        s.close()
                """.write(toFile: probe, atomically: true, encoding: .utf8)
            for attempt in 0..<5 {
                try node.configuration().write(toFile: node.configFile, atomically: true, encoding: .utf8)
                let output = "\(node.folder)/probe-\(attempt).out"
                let prober = try Subprocess.spawn(
                    "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", probe, node.socket],
                    stdout: output, stderr: output
                )
                let daemon = try Subprocess.spawn(
                    "/bin/sh", ["-c", "umask 000; exec \(Binaries.accordd) --config \(node.configFile)"], stdout: node.logFile, stderr: node.logFile
                )
                try await eventually("accordd answers") { try await node.ctl("status").succeeded }
                var status = stat()
                #expect(stat(node.socket, &status) == 0 && status.st_mode & 0o077 == 0, "the socket's mode is \(String(status.st_mode & 0o777, radix: 8))")
                daemon.signal(SIGTERM)
                _ = try await daemon.wait()
                prober.signal(SIGKILL)
                _ = try await prober.wait()
                let probed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
                #expect(!probed.contains("connected"), "attempt \(attempt): another user connected")
                let leftovers = try FileManager.default.contentsOfDirectory(atPath: node.folder).filter { $0.hasPrefix(".accordd-admin") }
                #expect(leftovers.isEmpty, "private folders left behind: \(leftovers)")
            }
        }
    }
}
