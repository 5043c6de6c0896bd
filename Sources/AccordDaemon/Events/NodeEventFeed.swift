import AccordAdminAPI
import AccordModel
import AccordStore
import AccordSync

/// Feeds the event hub from the store's commits and the sync node's sessions. The work done per
/// commit is a pure derivation on the store's writer queue (`EventDerivation`); the hub never
/// waits for a subscriber, so a slow one cannot slow a write.
struct NodeEventFeed {
    private let observation: CommitObservation

    init(hub: EventHub, store: NodeStore, sync: SyncNode, clock: @escaping @Sendable () -> UInt64) {
        observation = store.observeCommits { notice in
            let events = EventDerivation.events(of: notice, today: CalendarDate(unixMillis: notice.committedAtMillis))
            hub.publish(events, atMillis: notice.committedAtMillis)
        }
        sync.observeSessions { notice in
            var event = NodeEvent(type: notice.kind == .established ? .peerConnected : .peerDisconnected)
            event.peer = notice.peer.description
            event.direction = notice.direction.rawValue
            event.message = notice.reason
            hub.publish([event], atMillis: clock())
        }
    }

    func stop() { observation.cancel() }
}
