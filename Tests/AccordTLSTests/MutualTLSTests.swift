import AccordCrypto
import AccordTLS
import AccordTestSupport
import Foundation
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers
import Testing

@Suite("Mutual TLS 1.3 over OpenSSL")
struct MutualTLSTests {
    let group = MultiThreadedEventLoopGroup.singleton
    let pki: TestPKI

    init() async throws { pki = try await TestPKI.shared }

    @Test("our client and our server authenticate each other and move 8 MiB both ways byte for byte")
    func bulkTransfer() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1"), policy: PeerPolicy(allowedOrganisations: ["acme"])) { server in
            let size = 8 << 20
            let client = try await TestClient.connect(
                group: group, port: server.port, context: pki.context("acme-node1"),
                policy: PeerPolicy(expectedOrganisation: "globex"), behaviour: .collect(expected: size)
            )
            let serverIdentity = try await client.handshake.get()
            #expect(serverIdentity.organisation == "globex")
            #expect(serverIdentity.nodeName == "node1")
            #expect(serverIdentity.fingerprint == (try Certificate(pemRepresentation: String(contentsOfFile: pki.path("globex-node1", ".pem"), encoding: .utf8))).fingerprint)
            let clientIdentity = try await server.connection().handshake.get()
            #expect(clientIdentity.organisation == "acme")

            var random = SystemRandomNumberGenerator()
            let payload = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
            try await client.channel.writeAndFlush(ByteBuffer(bytes: payload))
            let echoed = try await client.received.get()
            #expect(echoed.readableBytes == size)
            #expect(echoed.getBytes(at: echoed.readerIndex, length: size) == payload)

            try await client.channel.close()
            let clientOutcome = try await client.finished.get()
            let serverOutcome = try await server.connection().finished.get()
            #expect(clientOutcome.errors.isEmpty, "\(clientOutcome.errors)")
            #expect(serverOutcome.errors.isEmpty, "\(serverOutcome.errors)")
            #expect(serverOutcome.sawCloseNotify, "the server did not see the client's close_notify")
        }
    }

    @Test("a server that closes sends close_notify, and the client sees a clean end")
    func serverInitiatedClose() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1"), behaviour: .echoThenClose(closeAfter: 5)) { server in
            let client = try await TestClient.connect(group: group, port: server.port, context: pki.context("acme-node1"), behaviour: .collect(expected: 5))
            try await client.channel.writeAndFlush(ByteBuffer(string: "hello"))
            #expect(String(buffer: try await client.received.get()) == "hello")
            let outcome = try await client.finished.get()
            #expect(outcome.sawCloseNotify)
            #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        }
    }

    @Test("the real openssl s_client talks to our server")
    func opensslClientInterop() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1"), behaviour: .echoThenClose(closeAfter: 13)) { server in
            let client = try OpenSSLPeer([
                "s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_3", "-quiet", "-ign_eof",
                "-cert", pki.path("acme-node1", ".pem"), "-key", pki.path("acme-node1", ".key"), "-CAfile", pki.caPath,
                "-verify_return_error",
            ])
            client.send("hello, accord")
            client.closeInput()
            let (output, errors) = await client.finish()
            #expect(output.contains("hello, accord"), "s_client printed: \(output) / \(errors)")
            #expect(try await server.connection().handshake.get().organisation == "acme")
            let outcome = try await server.connection().finished.get()
            #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        }
    }

    @Test("our client talks to the real openssl s_server -Verify 1")
    func opensslServerInterop() async throws {
        let port = try await freePort()
        let server = try OpenSSLPeer([
            "s_server", "-accept", "127.0.0.1:\(port)", "-tls1_3", "-rev", "-naccept", "1", "-Verify", "1",
            "-verify_return_error", "-cert", pki.path("globex-node1", ".pem"), "-key", pki.path("globex-node1", ".key"),
            "-CAfile", pki.caPath,
        ])
        var client: ObservedConnection?
        try await eventually("s_server listens", timeout: .seconds(5), every: .milliseconds(50)) {
            client = try? await TestClient.connect(
                group: group, port: port, context: pki.context("acme-node1"), policy: PeerPolicy(expectedOrganisation: "globex"),
                behaviour: .collect(expected: 6)
            )
            return client != nil
        }
        let connection = try #require(client)
        #expect(try await connection.handshake.get().organisation == "globex")
        try await connection.channel.writeAndFlush(ByteBuffer(string: "accord\n"))
        #expect(String(buffer: try await connection.received.get()).hasPrefix("drocca"))
        try await connection.channel.close()
        // s_server reports the client certificate it verified: ours, by the consortium CA.
        let (output, errors) = await server.finish(timeout: .seconds(5))
        #expect(errors.contains("Peer certificate: O = acme, CN = node1"), "\(output) \(errors)")
        #expect(errors.contains("Verification: OK"), "\(output) \(errors)")
    }
}

@Suite("Refused peers")
struct RefusedPeerTests {
    let group = MultiThreadedEventLoopGroup.singleton
    let pki: TestPKI

    init() async throws { pki = try await TestPKI.shared }

    /// Connects `clientNode` to a globex server and returns what the server saw.
    func serverOutcome(
        clientContext: TLSContext, serverContext: TLSContext? = nil, clientPolicy: PeerPolicy = .anyMember
    ) async throws -> (server: ConnectionObserver.Outcome, client: ConnectionObserver.Outcome) {
        try await TestServer.with(group: group, context: serverContext ?? pki.context("globex-node1")) { server in
            let client = try await TestClient.connect(group: group, port: server.port, context: clientContext, policy: clientPolicy)
            // In TLS 1.3 the client's handshake completes before the server has judged the client's
            // certificate. A connection both sides accepted stays open until someone closes it, so
            // the client closes it then; one the server refused is closed by the server, after its
            // alert, which the client must read by itself.
            if (try? await client.handshake.get()) != nil, (try? await server.connection().handshake.get()) != nil {
                try? await client.channel.close()
            }
            let clientOutcome = try await client.finished.get()
            let serverOutcome = try await server.connection().finished.get()
            return (serverOutcome, clientOutcome)
        }
    }

    @Test(
        "a client certificate the server must refuse is refused, with the rule and the reason",
        arguments: [
            ("rogue acme-node1", PeerRefusal.Code.untrustedIssuer, "unable to get local issuer certificate"),
            ("acme-expired", .certificateExpired, "certificate has expired"),
            ("acme-future", .certificateNotYetValid, "certificate is not yet valid"),
            ("acme-revoked", .certificateRevoked, "certificate revoked"),
            ("acme-ca", .caCertificate, "is a CA certificate"),
            ("acme-rsa", .unsupportedKey, "not an elliptic-curve key"),
        ]
    )
    func refusedClientCertificates(node: String, rule: PeerRefusal.Code, reason: String) async throws {
        let rogue = node.hasPrefix("rogue ")
        let name = rogue ? String(node.dropFirst(6)) : node
        let (server, client) = try await serverOutcome(
            clientContext: try pki.context(name, rogue: rogue), serverContext: try pki.context("globex-node1", crl: true)
        )
        let error = try #require(server.errors.first, "the server accepted \(node)")
        #expect(error.code == .peerRejected)
        #expect(error.refusal?.code == rule, "\(error)")
        #expect(error.reason == rule.description)
        #expect(error.message.contains(reason), "\(error)")
        // The client learns of the refusal too (in TLS 1.3, at its first read): the server's alert.
        #expect(client.errors.contains { $0.message.contains("alert") }, "the client saw \(client.errors) \(client.otherErrors)")
        #expect(!client.sawCloseNotify, "a refusal is an alert, not an orderly close")
    }

    @Test("a client dialling the wrong organisation refuses the server")
    func wrongOrganisation() async throws {
        let (_, client) = try await serverOutcome(clientContext: pki.context("acme-node1"), clientPolicy: PeerPolicy(expectedOrganisation: "initech"))
        let error = try #require(client.errors.first)
        #expect(error.code == .peerRejected)
        #expect(error.refusal?.code == .wrongOrganisation, "\(error)")
        #expect(error.message.contains("dialled initech"), "\(error)")
    }

    @Test("a server accepting only configured organisations refuses others")
    func organisationNotAllowed() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1"), policy: PeerPolicy(allowedOrganisations: ["initech"])) { server in
            _ = try await TestClient.connect(group: group, port: server.port, context: pki.context("acme-node1"))
            let outcome = try await server.connection().finished.get()
            #expect(outcome.errors.first?.code == .peerRejected)
            #expect(outcome.errors.first?.refusal?.code == .organisationNotConfigured, "\(outcome.errors)")
            #expect(outcome.errors.first?.message.contains("not a configured peer") == true, "\(outcome.errors)")
        }
    }

    @Test("a pinned fingerprint that does not match refuses the peer")
    func pinMismatch() async throws {
        var configuration = pki.configuration("acme-node1")
        configuration.pinnedFingerprints = [SHA256Digest(hashing: Array("some other certificate".utf8))]
        let (_, client) = try await serverOutcome(clientContext: try TLSContext(configuration: configuration))
        let error = try #require(client.errors.first)
        #expect(error.code == .peerRejected)
        #expect(error.refusal?.code == .pinMismatch, "\(error)")

        // The right pin passes.
        var pinned = pki.configuration("acme-node1")
        pinned.pinnedFingerprints = [try pki.context("globex-node1").certificate.fingerprint]
        let (server, ok) = try await serverOutcome(clientContext: try TLSContext(configuration: pinned))
        #expect(ok.errors.isEmpty, "\(ok.errors)")
        #expect(server.errors.isEmpty, "the server accepted the pinned client too: \(server.errors)")
    }

    @Test("a client without a certificate is refused")
    func noClientCertificate() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1")) { server in
            let client = try OpenSSLPeer(["s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_3", "-quiet", "-CAfile", pki.caPath])
            client.send("hello")
            let outcome = try await server.connection().finished.get()
            client.closeInput()
            _ = await client.finish(timeout: .seconds(3))
            let error = try #require(outcome.errors.first)
            #expect(error.refusal?.code == .noCertificate, "\(error)")
            #expect(error.reason == "no-certificate")
        }
    }

    @Test("a TLS 1.2-only client is refused")
    func tls12Client() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1")) { server in
            let client = try OpenSSLPeer([
                "s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_2", "-quiet",
                "-cert", pki.path("acme-node1", ".pem"), "-key", pki.path("acme-node1", ".key"), "-CAfile", pki.caPath,
            ])
            let outcome = try await server.connection().finished.get()
            client.closeInput()
            _ = await client.finish(timeout: .seconds(3))
            let error = try #require(outcome.errors.first)
            #expect(error.code == .handshakeFailed)
            #expect(error.refusal?.code == .tlsVersion, "\(error)")
            #expect(error.message.contains("unsupported protocol"), "\(error)")
        }
    }

    @Test("plain-text garbage is refused")
    func garbage() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1")) { server in
            let raw = try await TestClient.raw(group: group, port: server.port, send: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), thenClose: false)
            let outcome = try await server.connection().finished.get()
            try? await raw.close()
            #expect(outcome.errors.first?.code == .handshakeFailed, "\(outcome.errors)")
            #expect(outcome.errors.first?.refusal?.code == .notTLS, "\(outcome.errors)")
        }
    }

    @Test("a peer that stalls in the handshake is cut off by the timeout", .timeLimit(.minutes(1)))
    func stalledHandshake() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1", handshakeTimeout: 0.3)) { server in
            let raw = try await TestClient.raw(group: group, port: server.port, send: [0x16, 0x03, 0x01], thenClose: false)
            // The raw peer never sends more and never closes: only the timeout can end this connection.
            let outcome = try await server.connection().finished.get()
            try? await raw.close()
            #expect(outcome.errors.first?.code == .handshakeTimeout, "\(outcome.errors)")
            #expect(outcome.errors.first?.message.contains("within 300 ms") == true, "the timeout is named: \(outcome.errors)")
        }
    }

    @Test("a peer that disconnects mid-handshake is reported as such")
    func disconnectMidHandshake() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1")) { server in
            _ = try await TestClient.raw(group: group, port: server.port, send: [0x16, 0x03, 0x01, 0x00, 0xf0, 0x01], thenClose: true)
            let outcome = try await server.connection().finished.get()
            #expect(outcome.errors.first?.code == .disconnectedDuringHandshake, "\(outcome.errors)")
        }
    }

    @Test("a peer that drops TCP without close_notify is reported as an unclean shutdown")
    func uncleanShutdown() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1"), behaviour: .collect(expected: 4)) { server in
            let client = try OpenSSLPeer([
                "s_client", "-connect", "127.0.0.1:\(server.port)", "-tls1_3", "-quiet",
                "-cert", pki.path("acme-node1", ".pem"), "-key", pki.path("acme-node1", ".key"), "-CAfile", pki.caPath,
            ])
            client.send("ping")
            // The session is established and carried data: now the TCP connection drops.
            _ = try await server.connection().received.get()
            kill(client.process.processIdentifier, SIGKILL)
            let outcome = try await server.connection().finished.get()
            _ = await client.finish(timeout: .seconds(2))
            #expect(outcome.errors.first?.code == .uncleanShutdown, "\(outcome.errors)")
        }
    }

    @Test("configuration mistakes name the file")
    func badConfiguration() throws {
        var configuration = pki.configuration("acme-node1")
        configuration.privateKeyPath = pki.path("globex-node1", ".key")
        let mismatch = #expect(throws: TLSError.self) { try TLSContext(configuration: configuration) }
        #expect(mismatch?.message.contains("does not match") == true)
        configuration = pki.configuration("acme-node1")
        configuration.trustRootsPath = "/nonexistent/ca.pem"
        let missing = #expect(throws: TLSError.self) { try TLSContext(configuration: configuration) }
        #expect(missing?.message.contains("/nonexistent/ca.pem") == true)
    }
}

@Suite("TLS bounds")
struct TLSBoundsTests {
    let group = MultiThreadedEventLoopGroup.singleton
    let pki: TestPKI

    init() async throws { pki = try await TestPKI.shared }

    @Test("a reader that does not read stops the sender: nothing is decrypted or buffered without bound")
    func readBackpressure() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1"), behaviour: .collect(expected: .max), autoRead: false) { server in
            let client = try await TestClient.connect(group: group, port: server.port, context: pki.context("acme-node1"))
            _ = try await client.handshake.get()
            let connection = try await server.connection()
            _ = try await connection.handshake.get()
            // The server asks for one read; then nothing more.
            connection.channel.read()
            let total = 32 << 20
            let sent = client.channel.eventLoop.makePromise(of: Void.self)
            let done = Flag()
            sent.futureResult.whenComplete { _ in done.value.withLockedValue { $0 = true } }
            client.channel.writeAndFlush(ByteBuffer(repeating: 0x5a, count: total), promise: sent)
            try await eventually("the sender is told to stop") { !client.channel.isWritable }
            #expect(!done.value.withLockedValue { $0 }, "the whole payload went out although the server reads nothing")
            try await client.channel.close()
        }
    }

    @Test("1,000 connections, half of them refused, leave memory bounded")
    func manyConnections() async throws {
        try await TestServer.with(group: group, context: pki.context("globex-node1"), behaviour: .echoThenClose(closeAfter: 4)) { server in
            let good = try pki.context("acme-node1")
            let rogue = try pki.context("acme-node1", rogue: true)

            /// `count` connections, every other one with the rogue CA's certificate; how many the
            /// server accepted and echoed, and how many it refused for the untrusted issuer.
            func round(_ count: Int, firstConnection: Int) async throws -> (accepted: Int, refused: Int) {
                var accepted = 0
                var refused = 0
                for index in 0..<count {
                    let refusedPeer = index % 2 == 1
                    let client = try await TestClient.connect(
                        group: group, port: server.port, context: refusedPeer ? rogue : good, behaviour: .collect(expected: 4)
                    )
                    if !refusedPeer { try await client.channel.writeAndFlush(ByteBuffer(string: "ping")) }
                    let outcome = try await client.finished.get()
                    let serverOutcome = try await server.connection(firstConnection + index).finished.get()
                    if serverOutcome.errors.first?.refusal?.code == .untrustedIssuer {
                        refused += 1
                    } else if outcome.errors.isEmpty, serverOutcome.errors.isEmpty, (try? await client.received.get()) != nil {
                        accepted += 1
                    }
                }
                return (accepted, refused)
            }
            _ = try await round(100, firstConnection: 0)
            let before = residentMegabytes()
            let (accepted, refused) = try await round(1_000, firstConnection: 100)
            let after = residentMegabytes()
            #expect(accepted == 500)
            #expect(refused == 500)
            #expect(server.connectionCount == 1_100)
            #expect(after - before < 40, "resident memory grew by \(after - before) MB over 1,000 connections")
            print("1,000 connections: RSS \(before) MB → \(after) MB")
        }
    }
}

final class Flag: Sendable {
    let value = NIOLockedValueBox(false)
}
