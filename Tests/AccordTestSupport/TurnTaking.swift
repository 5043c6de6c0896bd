import NIOConcurrencyHelpers

/// Tests that run real `accordd` processes take turns: each holds its turn while its nodes run.
///
/// On the project's two cores one mesh of daemons, its accordctl processes and their fsyncs
/// already fill the machine; several meshes at once (as a parallel `swift test` would start)
/// stretch every step past the waits of their tests — a note that takes 20 ms alone took over
/// 2 s with four meshes running. Tests without processes still run beside a mesh. A turn is
/// re-entrant within one task tree (a helper that opens a mesh inside a test that holds one).
public final class TurnTaking: Sendable {
    /// The turn of the tests that run accordd processes.
    public static let daemonProcesses = TurnTaking()

    @TaskLocal private static var holding: Set<ObjectIdentifier> = []

    private struct State {
        var busy = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Runs `body` once it is this task's turn; first come, first served.
    public func withTurn<Result>(
        isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Result
    ) async throws -> Result {
        let key = ObjectIdentifier(self)
        if Self.holding.contains(key) { return try await body() }
        await acquire()
        defer { release() }
        return try await Self.$holding.withValue(Self.holding.union([key])) { try await body() }
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLockedValue { state in
                guard state.busy else {
                    state.busy = true
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.busy = false
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
