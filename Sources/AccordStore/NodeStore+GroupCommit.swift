import Dispatch
import NIOConcurrencyHelpers

/// Group commit: every write request waiting when a transaction starts shares it and its one
/// fsync, at most `maximumGroupSize` per transaction so one stays short even under a flood.
extension NodeStore {
    /// Runs `body` on the writer queue inside a group transaction and returns once it committed.
    func write<Result: Sendable>(
        _ body: @escaping @Sendable (StoreWriter, inout WriteContext) throws(StoreError) -> Result
    ) async throws(StoreError) -> Result {
        let closed = StoreError(.closed, "the store is closed", path: configuration.databasePath)
        let outcome: Swift.Result<Result, StoreError> = await withCheckedContinuation { continuation in
            let box = Confined<Swift.Result<Result, StoreError>>(nil)
            let request = PendingWrite(
                work: { writer, context in
                    do throws(StoreError) {
                        box.value = .success(try body(writer, &context))
                        return nil
                    } catch {
                        box.value = .failure(error)
                        return error
                    }
                },
                complete: { failure in
                    continuation.resume(returning: failure.map { .failure($0) } ?? box.value ?? .failure(closed))
                }
            )
            let (accepted, startDrain) = pending.withLockedValue { state -> (Bool, Bool) in
                guard !state.closed else { return (false, false) }
                state.queue.append(request)
                defer { state.draining = true }
                return (true, !state.draining)
            }
            guard accepted else { return request.complete(closed) }
            if startDrain { writerQueue.async { self.drain() } }
        }
        return try outcome.get()
    }

    /// Commits waiting write requests in groups until none is left.
    private func drain() {
        while true {
            let group = pending.withLockedValue { state -> [PendingWrite] in
                let group = Array(state.queue.prefix(Self.maximumGroupSize))
                state.queue.removeFirst(group.count)
                if group.isEmpty { state.draining = false }
                return group
            }
            if group.isEmpty { return }
            commit(group)
        }
    }

    private func commit(_ group: [PendingWrite]) {
        guard let writer = writer.value else {
            let closed = StoreError(.closed, "the store is closed", path: configuration.databasePath)
            for request in group { request.complete(closed) }
            return
        }
        var context = WriteContext()
        let observers = commitObservers.withLockedValue { Array($0.observers.values) }
        if !observers.isEmpty { context.notice = CommitNoticeDraft() }
        var failure: StoreError?
        do throws(StoreError) {
            try writer.connection.execute("BEGIN IMMEDIATE")
            for request in group {
                if let error = request.work(writer, &context) { throw error }
            }
            try writer.materialise(&context)
            try writer.connection.execute("COMMIT")
            announce(context)
            if let draft = context.notice, !draft.isEmpty {
                let notice = draft.notice
                for observer in observers { observer(notice) }
            }
        } catch {
            try? writer.connection.execute("ROLLBACK")
            writer.evict(context.touched)
            try? writer.reloadCounters()
            failedWrites.withLockedValue { $0[error.code.description, default: 0] += 1 }
            failure = error
        }
        for request in group { request.complete(failure) }
    }
}

/// A write request waiting for the next group transaction.
struct PendingWrite: Sendable {
    /// Does the request's work inside the group transaction; returns its failure, if any.
    let work: @Sendable (StoreWriter, inout WriteContext) -> StoreError?
    /// Resumes the caller once the group committed (`nil`) or rolled back (the error).
    let complete: @Sendable (StoreError?) -> Void
}

struct PendingWrites: Sendable {
    var queue: [PendingWrite] = []
    var draining = false
    var closed = false
}
