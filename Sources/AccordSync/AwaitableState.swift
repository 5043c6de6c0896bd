import NIOConcurrencyHelpers

/// A value behind a lock that tasks can wait on: `update` changes it and resumes — after the lock
/// is released — every waiter whose condition now holds; `wait(until:)` suspends until its
/// condition holds; `close()` ends every wait with `CancellationError`, as does the waiting task's
/// own cancellation. The primitive under a session's tasks and the session registry.
package final class AwaitableState<State: Sendable>: Sendable {
    private struct Waiter {
        let id: UInt64
        let isSatisfied: @Sendable (State) -> Bool
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct Guarded {
        var state: State
        var closed = false
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
    }

    private let guarded: NIOLockedValueBox<Guarded>

    package init(_ state: State) { guarded = NIOLockedValueBox(Guarded(state: state)) }

    /// Reads the state.
    package func read<Result>(_ body: (State) throws -> Result) rethrows -> Result {
        try guarded.withLockedValue { try body($0.state) }
    }

    /// Changes the state, then resumes the waiters whose condition holds.
    package func update<Result>(_ body: (inout State) throws -> Result) rethrows -> Result {
        let (result, ready) = try guarded.withLockedValue { guarded in
            let result = try body(&guarded.state)
            var ready: [CheckedContinuation<Void, any Error>] = []
            let state = guarded.state
            guarded.waiters.removeAll { waiter in
                guard waiter.isSatisfied(state) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return (result, ready)
        }
        for continuation in ready { continuation.resume() }
        return result
    }

    /// Suspends until `condition` holds.
    ///
    /// - Throws: `CancellationError` once the state is closed or the task is cancelled.
    package func wait(until condition: @escaping @Sendable (State) -> Bool) async throws {
        let id = guarded.withLockedValue { guarded in
            guarded.nextWaiter += 1
            return guarded.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Bool? = guarded.withLockedValue { guarded in
                    if guarded.closed || Task.isCancelled { return nil }
                    if condition(guarded.state) { return true }
                    guarded.waiters.append(Waiter(id: id, isSatisfied: condition, continuation: continuation))
                    return false
                }
                switch outcome {
                case nil: continuation.resume(throwing: CancellationError())
                case true?: continuation.resume()
                case false?: break
                }
            }
        } onCancel: {
            let waiter = guarded.withLockedValue { guarded -> Waiter? in
                guard let index = guarded.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return guarded.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Ends every wait, now and later, with `CancellationError`.
    package func close() {
        let waiters = guarded.withLockedValue { guarded in
            guarded.closed = true
            defer { guarded.waiters = [] }
            return guarded.waiters
        }
        for waiter in waiters { waiter.continuation.resume(throwing: CancellationError()) }
    }
}
