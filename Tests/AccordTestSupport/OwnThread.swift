import Foundation

/// Runs `work` on a thread of its own and returns its result: for long CPU-bound computations of
/// a test (a 100,000-agreement reconciliation, a thousand random histories). Swift's cooperative
/// pool has one thread per core, two here; two such tests running on it would hold every thread
/// for seconds, and every other test's waits would time out while nothing of theirs could run.
/// `work` must not record test issues (`#expect` needs the test's task): return what to check.
public func onOwnThread<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Swift.Result { try work() }) }
        // As deep as the main thread's: what the tests compute was written for it.
        thread.stackSize = 8 << 20
        thread.start()
    }
}
