import NIOConcurrencyHelpers

/// Watching the log: the latest accepted sequence for live push, and what each commit did for
/// the daemon's event stream.
extension NodeStore {
    /// The sequence number of the latest accepted change, each time a commit adds some.
    ///
    /// Each watcher holds only the newest value (`.bufferingNewest(1)`): a slow watcher never makes
    /// the store buffer, it just sees the latest number and reads `changes(after:for:limit:)` from
    /// its own cursor. This is what live push to peers is built on.
    public func acceptedSequences() -> AsyncStream<Int64> {
        let (stream, continuation) = AsyncStream<Int64>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = watchers.withLockedValue { watchers -> Int in
            watchers.nextID += 1
            watchers.continuations[watchers.nextID] = continuation
            return watchers.nextID
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.watchers.withLockedValue { $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    /// Calls `observer` with what each transaction did, on the writer queue right after it
    /// commits (and before its writers resume): it must be quick and must not wait on the store.
    /// Observing costs each transaction a read per changed agreement; stop it with `cancel()`.
    public func observeCommits(_ observer: @escaping @Sendable (CommitNotice) -> Void) -> CommitObservation {
        let id = commitObservers.withLockedValue { state -> Int in
            state.nextID += 1
            state.observers[state.nextID] = observer
            return state.nextID
        }
        return CommitObservation { [weak self] in _ = self?.commitObservers.withLockedValue { $0.observers.removeValue(forKey: id) } }
    }

    func announce(_ context: WriteContext) {
        guard let latest = context.dirty.values.max() else { return }
        for continuation in watchers.withLockedValue({ Array($0.continuations.values) }) { continuation.yield(latest) }
    }
}

struct LogWatchers: Sendable {
    var continuations: [Int: AsyncStream<Int64>.Continuation] = [:]
    var nextID = 0
}
