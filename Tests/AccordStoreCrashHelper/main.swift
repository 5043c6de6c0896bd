// A process for the crash-safety test: it writes to a node store as fast as it can from several
// concurrent tasks (local authoring and batched remote changes, so group commit is exercised) and
// prints `ack <change id>` for every change whose write has returned, i.e. that the store promised
// is durable. The test kills it with SIGKILL at random moments and checks every promise was kept.
//
// Usage: accord-store-crash-helper <data directory> <seed>
import AccordCrypto
import AccordModel
import AccordStore
import Foundation

guard CommandLine.arguments.count == 3, let seed = UInt64(CommandLine.arguments[2]) else {
    FileHandle.standardError.write(Data("usage: accord-store-crash-helper <data directory> <seed>\n".utf8))
    exit(64)
}
let local = NodeID(organisation: "acme", name: "crash")!
let remote = NodeID(organisation: "globex", name: "remote")!
let localSigner = ChangeSigner(node: local, key: try P256PrivateKey.generate())
let remoteSigner = ChangeSigner(node: remote, key: try P256PrivateKey.generate())
let store = try NodeStore(configuration: StoreConfiguration(directory: CommandLine.arguments[1], node: local))
// The store is open and holds the data directory: the test may check that a second opener is refused.
FileHandle.standardOutput.write(Data("opened\n".utf8))

func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

/// One unbuffered write per acknowledgement, so a kill never loses a printed line.
func acknowledge(_ id: ChangeID) { FileHandle.standardOutput.write(Data("ack \(id.hex)\n".utf8)) }

/// Creates agreements and edits them, through the store's local authoring path.
func authorLocally(worker: UInt64) async throws {
    var random = SystemRandomNumberGenerator()
    var agreements: [AgreementID] = []
    while true {
        if agreements.isEmpty || Int.random(in: 0..<4, using: &random) == 0 {
            let edits: [Edit] = [
                .set(.title, .text("crash test \(seed)/\(worker)/\(agreements.count)")),
                .set(.category, .category(.fullSupport)), .addParty("acme"), .addParty("globex"),
            ]
            let stored = try await store.author(nil, edits, signer: localSigner, nowMillis: now())
            agreements.append(stored.agreement)
            acknowledge(stored.change.id)
        } else {
            let target = agreements.randomElement(using: &random)!
            let stored = try await store.author(target, [.note("edit \(UInt32.random(in: 0...UInt32.max))")], signer: localSigner, nowMillis: now())
            acknowledge(stored.change.id)
        }
    }
}

/// Builds a remote node's history in memory and hands it to the store in batches, sometimes out
/// of order (so some changes are held and later released).
func applyRemoteBatches() async throws {
    var random = SystemRandomNumberGenerator()
    var replica = Replica()
    var clock = HybridLogicalClock(node: remote)
    var agreements: [AgreementID] = []
    while true {
        var batch: [VerifiedChange] = []
        for _ in 0..<Int.random(in: 1...200, using: &random) {
            if agreements.isEmpty || Int.random(in: 0..<3, using: &random) == 0 {
                let change = try replica.create(
                    [.set(.title, .text("remote \(agreements.count)")), .addParty("globex"), .addParty("acme")],
                    author: remoteSigner, clock: &clock, nowMillis: now()
                )
                agreements.append(change.change.agreement)
                batch.append(change)
            } else {
                let target = agreements.randomElement(using: &random)!
                batch.append(try replica.edit(target, [.note("remote edit")], author: remoteSigner, clock: &clock, nowMillis: now()))
            }
        }
        if Bool.random(using: &random) { batch.shuffle(using: &random) }
        let report = try await store.apply(batch, nowMillis: now())
        for (change, outcome) in zip(batch, report.outcomes) where outcome != .deferred && outcome != .duplicate {
            acknowledge(change.id)
        }
    }
}

try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await authorLocally(worker: 0) }
    group.addTask { try await authorLocally(worker: 1) }
    group.addTask { try await applyRemoteBatches() }
    try await group.next()
}
