// Mutual TLS 1.3 over the system OpenSSL through Accord's NIO handler, on loopback: bulk throughput
// one way, small-message round trips, and full mutual handshakes, each printed beside the same
// run's `openssl speed` figures for the negotiated cipher and for P-256.
//
// Usage: accord-tls-bench [--megabytes N] [--round-trips N] [--handshakes N] [--certificates DIR] [--json PATH]
import AccordTLS
import Foundation
import Glibc
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers

struct Options {
    var megabytes = 1024
    var roundTrips = 20_000
    var handshakes = 1_000
    var certificates = "certs-example/example"
    var json = "benchmarks-tls.json"

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--megabytes": megabytes = Int(iterator.next() ?? "") ?? megabytes
            case "--round-trips": roundTrips = Int(iterator.next() ?? "") ?? roundTrips
            case "--handshakes": handshakes = Int(iterator.next() ?? "") ?? handshakes
            case "--certificates": certificates = iterator.next() ?? certificates
            case "--json": json = iterator.next() ?? json
            default:
                FileHandle.standardError.write(Data("usage: accord-tls-bench [--megabytes N] [--round-trips N] [--handshakes N] [--certificates DIR] [--json PATH]\n".utf8))
                exit(64)
            }
        }
    }
}

/// Server side: counts bytes (bulk) or echoes them (round trips), and reports the handshake.
final class BenchServerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let echo: Bool
    let received: Counter
    init(echo: Bool, received: Counter) {
        self.echo = echo
        self.received = received
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if echo { context.write(data, promise: nil) } else { received.add(bytes.readableBytes) }
    }
    func channelReadComplete(context: ChannelHandlerContext) { if echo { context.flush() } }
}

/// Client side: completes a promise per handshake and per `expected` echoed bytes.
final class BenchClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let handshake: EventLoopPromise<Void>
    var waiting: (expected: Int, promise: EventLoopPromise<Void>)?
    private var received = 0
    init(handshake: EventLoopPromise<Void>) { self.handshake = handshake }
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSEvent { handshake.succeed(()) }
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        if let waiting, received >= waiting.expected {
            received -= waiting.expected
            self.waiting = nil
            waiting.promise.succeed(())
        }
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { handshake.fail(error) }
    func channelInactive(context: ChannelHandlerContext) {
        struct Closed: Error {}
        handshake.fail(Closed())
        waiting?.promise.fail(Closed())
    }
}

final class Counter: Sendable {
    let value = NIOLockedValueBox(0)
    func add(_ count: Int) { value.withLockedValue { $0 += count } }
    var current: Int { value.withLockedValue { $0 } }
}

let options = Options(CommandLine.arguments)
let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
func configuration(_ node: String) -> TLSConfiguration {
    TLSConfiguration(
        certificateChainPath: "\(options.certificates)/\(node).pem", privateKeyPath: "\(options.certificates)/\(node).key",
        trustRootsPath: "\(options.certificates)/ca.pem"
    )
}
let serverContext = try TLSContext(configuration: configuration("globex-node1"))
let clientContext = try TLSContext(configuration: configuration("acme-node1"))

func startServer(echo: Bool, received: Counter) async throws -> any Channel {
    try await ServerBootstrap(group: group)
        .serverChannelOption(.backlog, value: 256)
        .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(TLSHandler(context: serverContext, role: .server))
                try channel.pipeline.syncOperations.addHandler(BenchServerHandler(echo: echo, received: received))
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
}

/// Connects, waits for the handshake, and returns the channel with its handler (on its loop).
func connect(port: Int) async throws -> (any Channel, NIOLoopBound<BenchClientHandler>) {
    let eventLoop = group.next()
    let handshake = eventLoop.makePromise(of: Void.self)
    let channel = try await ClientBootstrap(group: eventLoop)
        .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    TLSHandler(context: clientContext, role: .client, policy: PeerPolicy(expectedOrganisation: "globex"))
                )
                try channel.pipeline.syncOperations.addHandler(BenchClientHandler(handshake: handshake))
            }
        }
        .connect(host: "127.0.0.1", port: port).get()
    try await handshake.futureResult.get()
    let handler = try await channel.eventLoop.submit {
        NIOLoopBound(try channel.pipeline.syncOperations.handler(type: BenchClientHandler.self), eventLoop: channel.eventLoop)
    }.get()
    return (channel, handler)
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

// Bulk: one direction, 64 KiB writes, up to 16 MiB in flight.
let bulkCounter = Counter()
let bulkServer = try await startServer(echo: false, received: bulkCounter)
let (bulkClient, _) = try await connect(port: bulkServer.localAddress!.port!)
let chunk = ByteBuffer(repeating: 0xa5, count: 64 * 1024)
let total = options.megabytes << 20
let clock = ContinuousClock()
var start = clock.now
var sent = 0
while sent < total {
    var last: EventLoopFuture<Void>?
    for _ in 0..<256 where sent < total {
        last = bulkClient.write(chunk)
        sent += chunk.readableBytes
    }
    bulkClient.flush()
    try await last?.get()
}
while bulkCounter.current < total { try await Task.sleep(for: .microseconds(200)) }
let bulkSeconds = seconds(clock.now - start)
let bulkMegabytesPerSecond = Double(total) / 1_048_576 / bulkSeconds
try await bulkClient.close().get()
try await bulkServer.close().get()

// Round trips: 64-byte messages echoed, one at a time.
let echoServer = try await startServer(echo: true, received: Counter())
let (echoClient, echoHandler) = try await connect(port: echoServer.localAddress!.port!)
let message = ByteBuffer(repeating: 0x42, count: 64)
start = clock.now
for _ in 0..<options.roundTrips {
    let done = echoClient.eventLoop.makePromise(of: Void.self)
    try await echoClient.eventLoop.submit { echoHandler.value.waiting = (64, done) }.get()
    echoClient.writeAndFlush(message, promise: nil)
    try await done.futureResult.get()
}
let roundTripSeconds = seconds(clock.now - start)
let roundTripsPerSecond = Double(options.roundTrips) / roundTripSeconds
try await echoClient.close().get()

// Handshakes: full mutual TLS 1.3 handshakes (no resumption), two clients at a time.
start = clock.now
try await withThrowingTaskGroup(of: Void.self) { tasks in
    for worker in 0..<2 {
        tasks.addTask {
            for _ in stride(from: worker, to: options.handshakes, by: 2) {
                let (channel, _) = try await connect(port: echoServer.localAddress!.port!)
                try await channel.close().get()
            }
        }
    }
    try await tasks.waitForAll()
}
let handshakeSeconds = seconds(clock.now - start)
let handshakesPerSecond = Double(options.handshakes) / handshakeSeconds
try await echoServer.close().get()

/// Runs `openssl speed` and returns its stdout. It is spawned with an empty signal mask: `speed`
/// times itself with SIGALRM, which the threads of a Swift process block, and a child inherits the
/// mask of the thread that starts it (Foundation's `Process` would leave it running for ever).
func opensslSpeed(_ arguments: [String]) throws -> String {
    var pipe: [Int32] = [0, 0]
    guard Glibc.pipe(&pipe) == 0 else { return "" }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addclose(&actions, pipe[0])
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    var empty = sigset_t()
    sigemptyset(&empty)
    var defaults = sigset_t()
    sigfillset(&defaults)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = (["openssl", "speed", "-seconds", "2"] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let status = posix_spawn(&pid, "/usr/bin/openssl", &actions, &attributes, argv, environ)
    posix_spawn_file_actions_destroy(&actions)
    posix_spawnattr_destroy(&attributes)
    close(pipe[1])
    guard status == 0 else {
        close(pipe[0])
        return ""
    }
    let output = FileHandle(fileDescriptor: pipe[0], closeOnDealloc: true).readDataToEndOfFile()
    var exitStatus: Int32 = 0
    waitpid(pid, &exitStatus, 0)
    return String(decoding: output, as: UTF8.self)
}
let aesLine = try opensslSpeed(["-bytes", "16384", "-evp", "aes-256-gcm"]).split(separator: "\n").last { $0.hasPrefix("AES-256-GCM") || $0.hasPrefix("aes-256-gcm") }
let aesMegabytesPerSecond = (aesLine?.split(separator: " ").last.flatMap { Double($0.dropLast()) } ?? 0) * 1000 / 1_048_576
let ecdsaLine = try opensslSpeed(["ecdsap256"]).split(separator: "\n").last { $0.contains("nistp256") }
let ecdsaFields = ecdsaLine?.split(separator: " ").compactMap { Double($0) } ?? []
let signsPerSecond = ecdsaFields.count >= 3 ? ecdsaFields[ecdsaFields.count - 2] : 0
let verifiesPerSecond = ecdsaFields.last ?? 0

print("Mutual TLS 1.3 (TLS_AES_256_GCM_SHA384, P-256 certificates) through AccordTLS on loopback")
print(String(format: "bulk, one direction:     %8.0f MB/s   (%d MiB in %.2f s)   openssl speed aes-256-gcm (16 KiB blocks, one core): %.0f MB/s",
             bulkMegabytesPerSecond, options.megabytes, bulkSeconds, aesMegabytesPerSecond))
print(String(format: "64-byte round trips:     %8.0f /s     (%d in %.2f s)", roundTripsPerSecond, options.roundTrips, roundTripSeconds))
print(String(format: "full mutual handshakes:  %8.0f /s     (%d in %.2f s)   openssl speed P-256: %.0f sign/s, %.0f verify/s",
             handshakesPerSecond, options.handshakes, handshakeSeconds, signsPerSecond, verifiesPerSecond))

struct Report: Encodable {
    let bulkMegabytesPerSecond: Double
    let roundTripsPerSecond: Double
    let handshakesPerSecond: Double
    let opensslAES256GCMMegabytesPerSecond: Double
    let opensslP256SignsPerSecond: Double
    let opensslP256VerifiesPerSecond: Double
    let megabytes: Int
    let roundTrips: Int
    let handshakes: Int
}
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
try encoder.encode(Report(
    bulkMegabytesPerSecond: bulkMegabytesPerSecond, roundTripsPerSecond: roundTripsPerSecond,
    handshakesPerSecond: handshakesPerSecond, opensslAES256GCMMegabytesPerSecond: aesMegabytesPerSecond,
    opensslP256SignsPerSecond: signsPerSecond, opensslP256VerifiesPerSecond: verifiesPerSecond,
    megabytes: options.megabytes, roundTrips: options.roundTrips, handshakes: options.handshakes
)).write(to: URL(fileURLWithPath: options.json))
print("wrote \(options.json)")
try await group.shutdownGracefully()
