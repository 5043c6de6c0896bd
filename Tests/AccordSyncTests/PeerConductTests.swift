import AccordModel
import AccordSync
import AccordTestSupport
import Testing

/// What docs/protocol.md says a node does with a peer's legal but unusual traffic ("A session's
/// work"), checked with a peer under the test's control (initech, from the example certificates)
/// against a real acme node.
@Suite("What a peer may send", .serialized)
struct PeerConductTests {
    /// acme with `count` agreements shared with initech, which it accepts as a peer (and never
    /// reaches: nothing listens at initech's configured address).
    private static func acme(sharing count: Int) async throws -> (ClusterNode, [AgreementID]) {
        let acme = try ClusterNode("acme-node1", port: try freePorts(1)[0])
        acme.peers = [ClusterNode.placeholder(for: "initech", port: try freePorts(1)[0])]
        try await acme.start()
        var agreements: [AgreementID] = []
        for index in 0..<count {
            agreements.append(try await acme.create([.set(.title, .text("Shared \(index)")), .addParty("acme"), .addParty("initech")]))
        }
        return (acme, agreements)
    }

    /// Runs `body`, then stops `node`, also when `body` throws.
    private static func stopping<Result>(
        _ node: ClusterNode, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Result
    ) async throws -> Result {
        do {
            let result = try await body()
            await node.stop()
            return result
        } catch {
            await node.stop()
            throw error
        }
    }

    /// Starts a round as a peer that holds nothing: the whole key space as an empty item list.
    private static let holdingNothing = WireMessage.reconcile(RangeMessage(ranges: [.init(upperBound: nil, claim: .items([], wantsReply: true))]))

    /// The heads entries acme sends in the round, up to its final heads frame.
    private static func headsOfRound(_ session: HostileSession) async throws -> [HeadsMessage.Entry] {
        var entries: [HeadsMessage.Entry] = []
        while true {
            guard case .heads(let heads) = try await session.next(skipping: { if case .heads = $0 { false } else { true } }) else {
                throw TestFailure("acme closed the session before its final heads")
            }
            entries += heads.entries
            if heads.isFinal { return entries }
        }
    }

    @Test(
        "heads for agreements the peer lacks entirely: all of them up to 64, none from 65 (each is sent whole either way)",
        arguments: [1, 64, 65]
    )
    func headsOfWhatThePeerLacks(count: Int) async throws {
        let (acme, agreements) = try await Self.acme(sharing: count)
        let entries = try await Self.stopping(acme) {
            try await HostileClient(certificate: "initech-node1").session(port: acme.port) { session in
                try await session.send(Self.holdingNothing)
                return try await Self.headsOfRound(session)
            }
        }
        let described = Set(entries.map(\.agreement))
        #expect(described == (count <= 64 ? Set(agreements) : []), "\(described.count) of \(count) described")
        #expect(entries.count == described.count, "each agreement once")
    }

    @Test("a heads entry repeated in a round is answered once; a change sent back to the node it came from is a duplicate, acknowledged, never an error")
    func repeatsAndEchoes() async throws {
        let (acme, agreements) = try await Self.acme(sharing: 1)
        let agreement = agreements[0]
        try await Self.stopping(acme) {
            try await HostileClient(certificate: "initech-node1").session(port: acme.port) { session in
                try await session.send(Self.holdingNothing)
                // acme pushes the agreement (live push and the round's whole history: once) and
                // describes it in its heads.
                var pushed: [UInt32: [[UInt8]]] = [:]
                var heads: [HeadsMessage] = []
                while !(heads.last?.isFinal ?? false) || pushed.isEmpty {
                    switch try await session.next(skipping: { if case .ping = $0 { true } else { false } }) {
                    case .changes(let batch, let encoded): pushed[batch] = encoded
                    case .heads(let frame): heads.append(frame)
                    case nil: throw TestFailure("acme closed the session")
                    default: break
                    }
                }
                #expect(heads.flatMap(\.entries).map(\.agreement) == [agreement])

                // The same heads entry twice, as if the peer had lost track: acme has described
                // the agreement in this round and sent it whole already, so it answers nothing more.
                let empty = HeadsMessage.Entry(agreement: agreement, heads: [])
                try await session.send(.heads(HeadsMessage(entries: [empty, empty], isFinal: true)))
                for number in pushed.keys.sorted() { try await session.send(.acknowledged(batch: number)) }
                // Sent back to the node it came from: the first change acme pushed.
                let echoed = try #require(pushed.min { $0.key < $1.key }?.value.first)
                try await session.send(.changes(batch: 0, encoded: [echoed]))
                var answers: [WireMessage] = []
                /// acme's messages until `last`, pings aside.
                func collect(until last: WireMessage) async throws {
                    while true {
                        guard let message = try await session.next(skipping: { if case .ping = $0 { true } else { false } }) else {
                            throw TestFailure("acme closed the session after \(answers)")
                        }
                        if message == last { return }
                        answers.append(message)
                    }
                }
                try await collect(until: .acknowledged(batch: 0))
                // A ping's pong comes after anything acme had queued before it.
                try await session.send(.ping(nonce: 7))
                try await collect(until: .pong(nonce: 7))
                #expect(!answers.contains { if case .heads = $0 { true } else { false } }, "no second answer to the repeated entry: \(answers)")
                #expect(!answers.contains { if case .changes = $0 { true } else { false } }, "nothing sent again: \(answers)")
                #expect(!answers.contains { if case .error = $0 { true } else { false } }, "no error: \(answers)")
            }
        }
        #expect(acme.sync.metrics.snapshot.changesDuplicate == 1, "the echo counts as a duplicate")
    }
}
