import AccordCrypto
import AccordModel
import AccordSync
import AccordTLS
import AccordTestSupport
import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// An attacker in a process of its own, for the attack tests (Tests/AccordDaemonTests,
/// HostileNetworkTests): they start it at the lowest CPU priority, so that on the test machine's
/// two cores it takes only what the nodes leave — on a real network an attacker's CPU is its own,
/// and what is measured is what the attack costs the node, not how the scheduler shares the cores.
///
/// Every command prints `started` once the attack is under way, then runs until it is killed.
@main
struct HostilePeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accord-hostile-peer",
        abstract: "Attack an accordd (tests only).",
        subcommands: [Flood.self, PartialFrames.self, SilentConnections.self, TLSConnections.self]
    )
}

/// The attacker's certificate: `ORG-NODE` in a folder with `ca.pem`.
struct Identity: ParsableArguments {
    @Option(help: "The node to attack (127.0.0.1).") var port: Int
    @Option(help: "The folder of certificates.") var folder: String
    @Option(help: "The attacker's certificate, ORG-NODE.") var certificate = "initech-node1"

    func client(inboundBuffer: Int = 1) throws -> HostileClient {
        var client = try HostileClient(certificate: certificate, in: folder)
        client.inboundBuffer = inboundBuffer
        return client
    }
}

func announceStart() {
    FileHandle.standardOutput.write(Data("started\n".utf8))
}

/// Frames of one type, as fast as the node takes them, never reading its answers; a closed
/// session is opened again at once.
struct Flood: AsyncParsableCommand {
    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case ping, pong, heads, reconcile, reconcileRequest, certificates, changes, acknowledged, hello
    }

    @OptionGroup var identity: Identity
    @Option(help: "The frame type.") var kind: Kind

    func run() async throws {
        let attacker = try identity.client()
        // A change the node accepts once (initech's own agreement with acme), then sees replayed.
        let genesis = try attacker.forge(try Change.genesis(
            stamp: Stamp(millis: HostileClient.clock(), counter: 0, node: attacker.node),
            edits: [.set(.title, .text("initech's own")), .set(.category, .category(.fullSupport)), .addParty("initech"), .addParty("acme")]
        )).encoded
        let sent = Tally()
        while true {
            try? await attacker.session(port: identity.port) { session in
                var index: UInt32 = 0
                while true {
                    index &+= 1
                    try await session.send(frame(index, attacker: attacker, replay: genesis))
                    if sent.increment() == 8 { announceStart() }
                }
            }
        }
    }

    private func frame(_ index: UInt32, attacker: HostileClient, replay: [UInt8]) -> WireMessage {
        switch kind {
        case .ping: return .ping(nonce: UInt64(index))
        case .pong: return .pong(nonce: UInt64(index))
        case .heads:
            // Made-up agreement ids, as many as a frame may name: nothing may be remembered of them.
            var random = SystemRandomNumberGenerator()
            return .heads(HeadsMessage(entries: (0..<WireMessage.maximumHeadsEntries).map { _ in
                HeadsMessage.Entry(agreement: AgreementID(.random(using: &random)), heads: [])
            }, isFinal: false))
        case .reconcile:
            return .reconcile(RangeMessage(ranges: [
                RangeMessage.Range(upperBound: nil, claim: .fingerprint(Fingerprint(high: UInt64(index), low: 1), count: 7))
            ]))
        case .reconcileRequest: return .reconcileRequest
        case .certificates:
            return .certificates(Array(repeating: attacker.tls.certificate.derRepresentation, count: WireMessage.maximumCertificates))
        case .changes: return .changes(batch: index, encoded: Array(repeating: replay, count: 256))
        case .acknowledged: return .acknowledged(batch: index)
        case .hello: return .hello(WireMessage.Hello(minimumVersion: 1, maximumVersion: 1, node: attacker.node, clockMillis: 0))
        }
    }
}

/// Connections that complete TLS and then, before any hello, send the start of a frame that
/// announces 1 MiB; each is held open until the node closes it.
struct PartialFrames: AsyncParsableCommand {
    @OptionGroup var identity: Identity
    @Option(help: "Connections.") var connections = 200
    @Option(help: "Bytes of the partial frame sent on each.") var bytes = 64 * 1024

    func run() async throws {
        let attacker = try identity.client()
        var frame: [UInt8] = [0x00, 0x10, 0x00, 0x00, WireMessage.Kind.changes.rawValue]
        frame += [UInt8](repeating: 0x5a, count: bytes)
        let partial = frame
        let port = identity.port
        let written = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    _ = try? await attacker.rawSession(port: port) { channel in
                        try await channel.writeAndFlush(ByteBuffer(bytes: partial))
                        if written.increment() == 1 { announceStart() }
                        try await channel.closeFuture.get()
                    }
                }
            }
        }
        while true { try await Task.sleep(for: .seconds(1)) }
    }
}

/// Plain TCP connections that never send a byte, kept at `count`: each one the node closes is
/// opened again.
struct SilentConnections: AsyncParsableCommand {
    @Option(help: "The node to attack (127.0.0.1).") var port: Int
    @Option(help: "Connections to keep open.") var count = 500

    func run() async throws {
        let opened = Tally()
        let (port, target) = (self.port, count)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<target {
                group.addTask {
                    while true {
                        if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get() {
                            if opened.increment() == target { announceStart() }
                            try? await channel.closeFuture.get()
                        } else {
                            try? await Task.sleep(for: .milliseconds(10))
                        }
                    }
                }
            }
        }
    }
}

/// Connections that complete TLS with a valid certificate and then send nothing — no hello —
/// kept at `count`: each one the node closes is opened again at once.
struct TLSConnections: AsyncParsableCommand {
    @OptionGroup var identity: Identity
    @Option(help: "Connections to keep open.") var count = 500

    func run() async throws {
        let attacker = try identity.client()
        let opened = Tally()
        let (port, target) = (identity.port, count)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<target {
                group.addTask {
                    while true {
                        let held: Void? = try? await attacker.rawSession(port: port) { channel in
                            if opened.increment() == target { announceStart() }
                            try? await channel.closeFuture.get()
                        }
                        if held == nil { try? await Task.sleep(for: .milliseconds(10)) }
                    }
                }
            }
        }
    }
}
