import NIOConcurrencyHelpers

/// A bounded queue between one producer task and one consumer task: `send` suspends while
/// `capacity` elements wait, so a slow consumer slows the producer instead of growing memory.
/// `finish()` ends it: waiting and later `send`s throw `CancellationError`, `next()` drains what
/// is queued and then returns nil.
package final class AsyncHandoff<Element: Sendable>: Sendable {
    private struct State {
        var buffer: [Element] = []
        var finished = false
        var consumer: CheckedContinuation<Element?, Never>?
        var producer: CheckedContinuation<Void, any Error>?
    }

    private enum SendAction { case handed(CheckedContinuation<Element?, Never>), queued, wait, finished }

    private let capacity: Int
    private let state = NIOLockedValueBox(State())

    package init(capacity: Int) { self.capacity = max(1, capacity) }

    package func send(_ element: Element) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let action: SendAction = state.withLockedValue { state in
                if state.finished { return .finished }
                if let consumer = state.consumer {
                    state.consumer = nil
                    return .handed(consumer)
                }
                if state.buffer.count < capacity {
                    state.buffer.append(element)
                    return .queued
                }
                state.buffer.append(element)
                state.producer = continuation
                return .wait
            }
            switch action {
            case .handed(let consumer):
                consumer.resume(returning: element)
                continuation.resume()
            case .queued: continuation.resume()
            case .wait: break
            case .finished: continuation.resume(throwing: CancellationError())
            }
        }
    }

    package func next() async -> Element? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
            let (element, producer, done): (Element?, CheckedContinuation<Void, any Error>?, Bool) = state.withLockedValue { state in
                if !state.buffer.isEmpty {
                    let element = state.buffer.removeFirst()
                    let producer = state.buffer.count < capacity ? state.producer : nil
                    if producer != nil { state.producer = nil }
                    return (element, producer, false)
                }
                if state.finished { return (nil, nil, true) }
                state.consumer = continuation
                return (nil, nil, false)
            }
            producer?.resume()
            if element != nil || done { continuation.resume(returning: element) }
        }
    }

    package func finish() {
        let (consumer, producer) = state.withLockedValue { state in
            state.finished = true
            defer { state.consumer = nil; state.producer = nil }
            return (state.consumer, state.producer)
        }
        consumer?.resume(returning: nil)
        producer?.resume(throwing: CancellationError())
    }
}
