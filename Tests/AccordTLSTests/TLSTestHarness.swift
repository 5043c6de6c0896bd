import AccordCrypto
import AccordTLS
import AccordTestSupport
import Foundation
import NIOCore
import NIOPosix
import NIOConcurrencyHelpers

/// What one end of a test connection saw, reported through promises so async tests can await it.
final class ConnectionObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Behaviour {
        /// Echo every byte back.
        case echo
        /// Collect bytes until `expected` arrived.
        case collect(expected: Int)
        /// Echo, then close once `closeAfter` bytes went back.
        case echoThenClose(closeAfter: Int)
    }

    let behaviour: Behaviour
    let handshake: EventLoopPromise<PeerIdentity>
    let received: EventLoopPromise<ByteBuffer>
    /// Everything that happened, completed when the channel goes inactive.
    let finished: EventLoopPromise<Outcome>
    private var buffer: ByteBuffer
    private var echoed = 0
    private var errors: [any Error] = []
    private var sawCloseNotify = false

    struct Outcome: Sendable {
        let errors: [TLSError]
        let otherErrors: [String]
        let sawCloseNotify: Bool
    }

    init(_ behaviour: Behaviour, eventLoop: any EventLoop) {
        self.behaviour = behaviour
        handshake = eventLoop.makePromise()
        received = eventLoop.makePromise()
        finished = eventLoop.makePromise()
        buffer = ByteBuffer()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event as? TLSEvent {
        case .handshakeCompleted(let peer): handshake.succeed(peer)
        case .closeNotifyReceived: sawCloseNotify = true
        case nil: context.fireUserInboundEventTriggered(event)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        switch behaviour {
        case .echo:
            context.write(wrapOutboundOut(bytes), promise: nil)
        case .echoThenClose(let closeAfter):
            echoed += bytes.readableBytes
            context.write(wrapOutboundOut(bytes), promise: nil)
            if echoed >= closeAfter {
                context.flush()
                context.close(promise: nil)
            }
        case .collect(let expected):
            buffer.writeBuffer(&bytes)
            if buffer.readableBytes >= expected { received.succeed(buffer) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.append(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete()
        context.fireChannelInactive()
    }

    /// A channel that never became active (a refused connect) is torn down without going inactive.
    func handlerRemoved(context: ChannelHandlerContext) {
        complete()
    }

    private var completed = false

    private func complete() {
        guard !completed else { return }
        completed = true
        let outcome = Outcome(
            errors: errors.compactMap { $0 as? TLSError }, otherErrors: errors.filter { !($0 is TLSError) }.map { "\($0)" },
            sawCloseNotify: sawCloseNotify
        )
        struct Closed: Error {}
        handshake.fail(Closed())
        received.fail(Closed())
        finished.succeed(outcome)
    }
}

/// The futures of one connection end, safe to pass out of the event loop.
struct ObservedConnection: Sendable {
    let channel: any Channel
    let handshake: EventLoopFuture<PeerIdentity>
    let received: EventLoopFuture<ByteBuffer>
    let finished: EventLoopFuture<ConnectionObserver.Outcome>
}

final class AcceptedConnections: Sendable {
    let list = NIOLockedValueBox<[ObservedConnection]>([])
}

/// A TLS server on 127.0.0.1 with a fresh observer per accepted connection.
final class TestServer: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init(
        group: any EventLoopGroup, context: TLSContext, policy: PeerPolicy = .anyMember,
        behaviour: ConnectionObserver.Behaviour = .echo, autoRead: Bool = true
    ) async throws {
        let accepted = AcceptedConnections()
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: autoRead)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    let observer = ConnectionObserver(behaviour, eventLoop: child.eventLoop)
                    try child.pipeline.syncOperations.addHandler(TLSHandler(context: context, role: .server, policy: policy))
                    try child.pipeline.syncOperations.addHandler(observer)
                    accepted.list.withLockedValue {
                        $0.append(ObservedConnection(
                            channel: child, handshake: observer.handshake.futureResult, received: observer.received.futureResult,
                            finished: observer.finished.futureResult
                        ))
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.accepted = accepted
    }

    private let accepted: AcceptedConnections
    var connectionCount: Int { accepted.list.withLockedValue { $0.count } }

    /// Waits until connection `index` (from 0) was accepted and returns it.
    func connection(_ index: Int = 0) async throws -> ObservedConnection {
        var connection: ObservedConnection?
        try await eventually("connection \(index) is accepted", timeout: .seconds(5), every: .milliseconds(5)) {
            connection = accepted.list.withLockedValue { $0.count > index ? $0[index] : nil }
            return connection != nil
        }
        return connection!
    }

    func close() async { try? await channel.close() }

    /// Runs `body` with a server that is closed when it returns or throws.
    static func with<Result>(
        group: any EventLoopGroup, context: TLSContext, policy: PeerPolicy = .anyMember,
        behaviour: ConnectionObserver.Behaviour = .echo, autoRead: Bool = true, _ body: (TestServer) async throws -> Result
    ) async throws -> Result {
        let server = try await TestServer(group: group, context: context, policy: policy, behaviour: behaviour, autoRead: autoRead)
        do {
            let result = try await body(server)
            await server.close()
            return result
        } catch {
            await server.close()
            throw error
        }
    }
}

struct HarnessError: Error, CustomStringConvertible { let description: String }

enum TestClient {
    /// Dials `port` with TLS and an observer.
    static func connect(
        group: any EventLoopGroup, port: Int, context: TLSContext, policy: PeerPolicy = .anyMember,
        behaviour: ConnectionObserver.Behaviour = .collect(expected: .max)
    ) async throws -> ObservedConnection {
        let promise = group.next().makePromise(of: ObservedConnection.self)
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let observer = ConnectionObserver(behaviour, eventLoop: channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandler(TLSHandler(context: context, role: .client, policy: policy))
                    try channel.pipeline.syncOperations.addHandler(observer)
                    promise.succeed(ObservedConnection(
                        channel: channel, handshake: observer.handshake.futureResult, received: observer.received.futureResult,
                        finished: observer.finished.futureResult
                    ))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        _ = channel
        return try await promise.futureResult.get()
    }

    /// Dials `port` without TLS, writes `bytes`, and optionally closes right after.
    static func raw(group: any EventLoopGroup, port: Int, send bytes: [UInt8], thenClose: Bool) async throws -> any Channel {
        let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get()
        // The server may already have hung up by the time the write completes; what it did about
        // the bytes is what the tests look at.
        if !bytes.isEmpty { try? await channel.writeAndFlush(ByteBuffer(bytes: bytes)) }
        if thenClose { try? await channel.close() }
        return channel
    }
}

/// Runs the real `openssl` command as a TLS peer.
final class OpenSSLPeer: @unchecked Sendable {
    let process = Process()
    let output = Pipe()
    let errors = Pipe()
    let input = Pipe()

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        try process.run()
    }

    func send(_ text: String) { input.fileHandleForWriting.write(Data(text.utf8)) }
    func closeInput() { try? input.fileHandleForWriting.close() }

    /// Waits for the process to end (killing it after `timeout`) and returns stdout and stderr.
    func finish(timeout: Duration = .seconds(10)) async -> (output: String, errors: String) {
        try? await eventually("openssl ends", timeout: timeout, every: .milliseconds(20)) { !process.isRunning }
        // SIGKILL: a child started from a Dispatch thread inherits its blocked signal mask, so a
        // SIGTERM could stay pending for ever.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            try? await eventually("openssl is killed", every: .milliseconds(10)) { !process.isRunning }
        }
        // It has ended, so its pipes are at their end: these reads return at once.
        return (
            String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        )
    }
}

/// A free port on 127.0.0.1, for `openssl s_server`.
func freePort() async throws -> Int {
    let socket = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = socket.localAddress!.port!
    try await socket.close().get()
    return port
}

