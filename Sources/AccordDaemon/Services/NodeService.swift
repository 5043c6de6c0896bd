import AccordSync
import Logging
import ServiceLifecycle

/// One of the node's services in a `ServiceGroup`, started in its place in the node's order and
/// logged as it starts and stops. ServiceGroup starts every service at once and stops them one by
/// one in reverse order; with `StartupSequence` each also starts only once the one before it says
/// it is up (the store before sync, sync before the listeners that read it…), so the order of
/// `accordd`'s log is the order of the list, both ways.
struct NodeService: Service, CustomStringConvertible {
    let description: String
    let position: Int
    let sequence: StartupSequence
    let logger: Logger
    /// Runs the service until it ends (for most, a graceful shutdown); it calls `started` once it
    /// is up.
    let body: @Sendable (_ started: @escaping @Sendable () -> Void) async throws -> Void

    func run() async throws {
        let (name, logger, sequence, position) = (description, logger, sequence, position)
        do {
            // A graceful shutdown ends the wait: when a service before this one fails (a port in
            // use), the group shuts down in reverse order and waits for this one first, so a
            // service that kept waiting for a turn that never comes would hang the process.
            try await cancelWhenGracefulShutdown { try await sequence.waitForTurn(position) }
        } catch is CancellationError {
            logger.debug("service not started: the node is stopping", metadata: ["service": "\(name)"])
            return
        }
        do {
            try await body {
                logger.info("service started", metadata: ["service": "\(name)"])
                sequence.started(position)
            }
        } catch is CancellationError {
            // Stopped by cancellation rather than a graceful shutdown (a sibling failed): an end.
        }
        logger.info("service stopped", metadata: ["service": "\(name)"])
    }
}

/// Which service may start: the next one once the one before has said it is up.
final class StartupSequence: Sendable {
    private let up = AwaitableState(0)

    /// Returns once every service before `position` is up; throws `CancellationError` if the
    /// task is cancelled first (a service before it failed).
    func waitForTurn(_ position: Int) async throws {
        try await up.wait { $0 >= position }
    }

    func started(_ position: Int) {
        up.update { $0 = max($0, position + 1) }
    }
}
