public import AccordAdminAPI
public import AccordRefusals
import Logging
import NIOConcurrencyHelpers

/// The node's recent events and the subscribers of the event stream, every part bounded.
///
/// Events get ids `RUN.SEQUENCE` (`RUN` is the hub's start time, so ids of an earlier run are
/// recognised) and are kept in a ring of the latest `retained`, from which a subscriber that
/// reconnects with the last id it saw is replayed what it missed. Each subscriber has a queue of
/// at most `queueCapacity` events: one that falls further behind (or never reads) gets what is
/// queued, then an `events-lost` event saying how to resync, and its stream ends. Publishing
/// never waits for a subscriber.
public final class EventHub: Sendable {
    public struct Limits: Sendable {
        public var retained = 1024
        public var queueCapacity = 512
        /// Subscribers through the admin socket (integrations, `accordctl watch`).
        public var subscribers = 32
        /// Subscribers through the web console (browser tabs), counted apart: however many tabs
        /// are open, the admin socket's integrations keep their places.
        public var consoleSubscribers = 16

        public init() {}
    }

    /// Where a subscriber listens from; each has its own limit.
    public enum Origin: Sendable { case admin, console }

    /// Why a subscription was refused.
    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    /// What the hub has done, for the metrics.
    public struct Counts: Sendable {
        public var published = 0
        public var subscribers = 0
        /// Subscribers dropped for falling behind.
        public var dropped = 0
        /// Subscriptions refused because `limits.subscribers` were listening.
        public var refused = 0
        /// Subscribers whose reader is waiting for their next event (a stream at rest).
        public var waiting = 0
    }

    public let limits: Limits
    let run: UInt64
    private let state: NIOLockedValueBox<State>
    /// Where dropped and refused subscribers are logged (once per reason, then summarised).
    private let refusals: RefusalLog?

    public init(limits: Limits = Limits(), run: UInt64, refusals: RefusalLog? = nil) {
        self.limits = limits
        self.run = run
        self.refusals = refusals
        state = NIOLockedValueBox(State(ring: EventRing(capacity: limits.retained)))
    }

    public var counts: Counts {
        state.withLockedValue { state in
            var counts = state.counts
            counts.subscribers = state.subscribers.count
            counts.waiting = state.subscribers.values.count { $0.waiter != nil }
            return counts
        }
    }

    /// Gives `events` their ids and time, keeps them, and queues them for every subscriber.
    public func publish(_ events: [NodeEvent], atMillis millis: UInt64) {
        guard !events.isEmpty else { return }
        let at = AdminAPI.timestamp(millis: millis)
        let (wakeups, overflowed) = state.withLockedValue { state -> ([(CheckedContinuation<EventSubscription.Next, Never>, NodeEvent)], Int) in
            var wakeups: [(CheckedContinuation<EventSubscription.Next, Never>, NodeEvent)] = []
            var overflowed = 0
            state.counts.published += events.count
            for var event in events {
                state.sequence += 1
                event.id = "\(run).\(state.sequence)"
                event.at = at
                state.ring.append(event, sequence: state.sequence)
                for id in state.subscribers.keys {
                    switch state.subscribers[id]!.offer(event, capacity: limits.queueCapacity) {
                    case .handed(let continuation): wakeups.append((continuation, event))
                    case .overflowed: overflowed += 1
                    case .queued, .ignored: break
                    }
                }
            }
            state.counts.dropped += overflowed
            return (wakeups, overflowed)
        }
        for (continuation, event) in wakeups { continuation.resume(returning: .event(event)) }
        if overflowed > 0 {
            refusals?.refused("event subscriber dropped", reason: "subscriber-fell-behind", metadata: ["queue": "\(limits.queueCapacity)"])
        }
    }

    /// A new subscriber to events (of one agreement, if `agreement` is given), starting after
    /// the event `since` if the hub still keeps it, else now.
    public func subscribe(since: String? = nil, agreement: String? = nil, origin: Origin = .admin) throws(Refusal) -> EventSubscription {
        let limit = origin == .admin ? limits.subscribers : limits.consoleSubscribers
        let outcome = state.withLockedValue { state -> Int? in
            guard state.subscribers.values.count(where: { $0.origin == origin }) < limit else {
                state.counts.refused += 1
                return nil
            }
            state.nextSubscriber += 1
            var subscriber = Subscriber(agreement: agreement, origin: origin)
            if let since {
                switch resumePoint(since, state) {
                case .after(let sequence):
                    for event in state.ring.events(after: sequence) { _ = subscriber.offer(event, capacity: limits.queueCapacity) }
                    if subscriber.overflowedAt != nil { state.counts.dropped += 1 }
                case .lost(let reason):
                    subscriber.queue.append(lost(reason, latest: state.sequence))
                }
            }
            state.subscribers[state.nextSubscriber] = subscriber
            return state.nextSubscriber
        }
        guard let id = outcome else {
            refusals?.refused("event subscription refused", reason: "too-many-subscribers", metadata: ["limit": "\(limit)", "origin": "\(origin)"])
            throw Refusal(description: "\(limit) subscribers are listening already; try again later")
        }
        return EventSubscription(hub: self, id: id)
    }

    /// The latest event's id (what a client that has just read the whole state resumes after).
    public var latestID: String { state.withLockedValue { "\(run).\($0.sequence)" } }

    var subscriberCount: Int { state.withLockedValue { $0.subscribers.count } }

    private enum ResumePoint {
        case after(UInt64)
        case lost(String)
    }

    private func resumePoint(_ since: String, _ state: State) -> ResumePoint {
        let parts = since.split(separator: ".")
        guard parts.count == 2, let run = UInt64(parts[0]), let sequence = UInt64(parts[1]) else {
            return .lost("\"\(since)\" is not an event id (RUN.SEQUENCE)")
        }
        guard run == self.run else { return .lost("the node restarted after event \(since); its events before the restart are gone") }
        guard sequence <= state.sequence else { return .lost("event \(since) was never published by this node") }
        guard sequence + 1 >= state.ring.oldestSequence else {
            return .lost("the node keeps only its latest \(limits.retained) events, and the ones after \(since) are not all among them")
        }
        return .after(sequence)
    }

    private func lost(_ reason: String, latest: UInt64) -> NodeEvent {
        var event = NodeEvent(id: "\(run).\(latest)", type: .eventsLost, at: "")
        event.message = "\(reason). To resync, read the agreements again (GET /v1/agreements) and resume after this event's id."
        return event
    }

    func next(_ id: Int, idleAfter timeout: Duration?) async -> EventSubscription.Next {
        await withCheckedContinuation { continuation in
            /// nil: wait (the continuation is stored, with a number the idle timer names it by);
            /// else the answer.
            let ready = state.withLockedValue { state -> (answer: EventSubscription.Next?, wait: UInt64) in
                guard var subscriber = state.subscribers[id] else { return (.ended, 0) }
                if let event = subscriber.take() {
                    state.subscribers[id] = subscriber
                    return (.event(event), 0)
                }
                if subscriber.overflowedAt != nil {
                    state.subscribers[id] = nil
                    return (.event(lost("this subscriber fell more than \(limits.queueCapacity) events behind", latest: state.sequence)), 0)
                }
                state.nextWait += 1
                subscriber.waiter = (state.nextWait, continuation)
                state.subscribers[id] = subscriber
                return (nil, state.nextWait)
            }
            if let answer = ready.answer {
                continuation.resume(returning: answer)
            } else if let timeout {
                Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    self?.wakeIdle(id, wait: ready.wait)
                }
            }
        }
    }

    /// Ends wait `wait` of subscriber `id` with `.idle`, if it is still waiting.
    private func wakeIdle(_ id: Int, wait: UInt64) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<EventSubscription.Next, Never>? in
            guard let waiter = state.subscribers[id]?.waiter, waiter.number == wait else { return nil }
            state.subscribers[id]?.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: .idle)
    }

    func cancel(_ id: Int) {
        let waiter = state.withLockedValue { $0.subscribers.removeValue(forKey: id)?.waiter }
        waiter?.continuation.resume(returning: .ended)
    }

    private struct State {
        var ring: EventRing
        var sequence: UInt64 = 0
        var subscribers: [Int: Subscriber] = [:]
        var nextSubscriber = 0
        var nextWait: UInt64 = 0
        var counts = Counts()
    }

    private struct Subscriber {
        let agreement: String?
        let origin: Origin
        var queue: [NodeEvent] = []
        var head = 0
        /// Set when the queue was full: nothing more is queued, and the reader is told after it.
        var overflowedAt: ContinuousClock.Instant?
        var waiter: (number: UInt64, continuation: CheckedContinuation<EventSubscription.Next, Never>)?

        init(agreement: String?, origin: Origin) {
            self.agreement = agreement
            self.origin = origin
        }

        enum Offer {
            case ignored, queued, overflowed
            /// Hand the event to this waiting reader.
            case handed(CheckedContinuation<EventSubscription.Next, Never>)
        }

        /// Queues `event` if it is for this subscriber, or hands it to its waiting reader.
        mutating func offer(_ event: NodeEvent, capacity: Int) -> Offer {
            guard overflowedAt == nil, agreement == nil || event.agreement == agreement else { return .ignored }
            if let waiter {
                self.waiter = nil
                return .handed(waiter.continuation)
            }
            guard queue.count - head < capacity else {
                overflowedAt = .now
                return .overflowed
            }
            queue.append(event)
            return .queued
        }

        mutating func take() -> NodeEvent? {
            guard head < queue.count else { return nil }
            let event = queue[head]
            head += 1
            if head == queue.count { (queue, head) = ([], 0) } else if head >= 64, head * 2 >= queue.count {
                queue.removeFirst(head)
                head = 0
            }
            return event
        }
    }
}

/// One subscriber's events, in order; nil once it is cancelled or has been told it lost events.
public struct EventSubscription: Sendable {
    let hub: EventHub
    let id: Int

    /// What a wait for the next event came to.
    public enum Next: Sendable {
        case event(NodeEvent)
        /// Nothing was published for this subscriber within the wait's idle time.
        case idle
        /// The subscription ended (cancelled, or dropped after its `events-lost`).
        case ended
    }

    /// The next event; `.idle` if none comes within `idleAfter` (the subscription stays), so one
    /// loop can write events and heartbeats without a second task sharing its writer.
    public func next(idleAfter timeout: Duration? = nil) async -> Next {
        await withTaskCancellationHandler {
            await hub.next(id, idleAfter: timeout)
        } onCancel: {
            hub.cancel(id)
        }
    }

    /// The next event, however long it takes; nil once the subscription has ended.
    public func next() async -> NodeEvent? {
        while true {
            switch await next(idleAfter: nil) {
            case .event(let event): return event
            case .ended: return nil
            case .idle: continue
            }
        }
    }

    public func cancel() { hub.cancel(id) }
}

/// The latest `capacity` events, oldest first.
struct EventRing {
    let capacity: Int
    private var slots: [NodeEvent] = []
    private var start = 0
    private(set) var oldestSequence: UInt64 = 1

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ event: NodeEvent, sequence: UInt64) {
        if slots.count < capacity {
            slots.append(event)
        } else {
            slots[start] = event
            start = (start + 1) % capacity
        }
        oldestSequence = sequence + 1 - UInt64(slots.count)
    }

    /// The kept events after `sequence`, oldest first.
    func events(after sequence: UInt64) -> [NodeEvent] {
        let skip = Int(sequence + 1 - min(sequence + 1, oldestSequence))
        guard skip < slots.count else { return [] }
        return (skip..<slots.count).map { slots[(start + $0) % slots.count] }
    }
}
