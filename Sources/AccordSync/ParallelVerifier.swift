public import AccordModel

/// What became of one encoded change of a received batch before the store judges it.
public enum ScreenedChange: Sendable {
    /// Decoded and its signatures verified.
    case verified(VerifiedChange)
    /// Already known to this node (accepted, rejected or held): nothing to verify or store.
    case known(ChangeID)
    /// Undecodable, or its signature does not verify (never recorded by id).
    case refused(ChangeRejection)
}

/// Decodes the signed changes of a batch, drops those this node already knows, and verifies the
/// rest on every core, off the event loops: P-256 verification is the dominant cost of catching
/// up (about 10,000–13,000 per second per core here), and a change already held needs none — so
/// a peer that replays what it sent costs a lookup per change, not a signature check.
public struct ParallelVerifier: Sendable {
    public let verifier: ChangeVerifier
    /// Changes per task: small enough to spread a batch over the cores, large enough that task
    /// overhead stays invisible next to the signature checks.
    public var chunkSize = 64

    public init(verifier: ChangeVerifier) { self.verifier = verifier }

    /// Each encoded change screened, in the order given. `known` answers which of the decoded
    /// ids the node already holds.
    public func screen(
        _ encoded: [[UInt8]], known: ([ChangeID]) async throws -> Set<ChangeID>
    ) async rethrows -> [ScreenedChange] {
        var screened: [ScreenedChange] = []
        screened.reserveCapacity(encoded.count)
        var unverified: [(index: Int, change: SignedChange)] = []
        for bytes in encoded {
            do throws(ChangeRejection) {
                let change = try SignedChange(encoded: bytes)
                unverified.append((screened.count, change))
                screened.append(.known(change.id))  // replaced below unless it is known
            } catch {
                screened.append(.refused(error))
            }
        }
        let held = try await known(unverified.map(\.change.id))
        unverified.removeAll { held.contains($0.change.id) }
        for (position, result) in zip(unverified.map(\.index), await verify(unverified.map(\.change))) {
            switch result {
            case .success(let change): screened[position] = .verified(change)
            case .failure(let rejection): screened[position] = .refused(rejection)
            }
        }
        return screened
    }

    /// Each change verified, or why not, in the order given.
    public func verify(_ changes: [SignedChange]) async -> [Result<VerifiedChange, ChangeRejection>] {
        guard changes.count > chunkSize else { return changes.map(verifyOne) }
        let chunks = stride(from: 0, to: changes.count, by: chunkSize).map { $0..<min($0 + chunkSize, changes.count) }
        return await withTaskGroup(of: (Int, [Result<VerifiedChange, ChangeRejection>]).self) { group in
            for (index, range) in chunks.enumerated() {
                let slice = Array(changes[range])
                group.addTask { (index, slice.map(verifyOne)) }
            }
            var parts = [[Result<VerifiedChange, ChangeRejection>]](repeating: [], count: chunks.count)
            for await (index, results) in group { parts[index] = results }
            return parts.flatMap { $0 }
        }
    }

    /// The attributions whose change is among `changes` and whose change's author signed them,
    /// checked on every core as the changes are; and how many named such a change and failed.
    /// One naming no change of `changes` (known already, or refused) is left out uncounted.
    public func check(_ attributions: [Attribution], of changes: [VerifiedChange]) async -> (kept: [Attribution], refused: Int) {
        guard !attributions.isEmpty else { return ([], 0) }
        let byID = Dictionary(changes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let candidates = attributions.compactMap { attribution in byID[attribution.change].map { (attribution, $0) } }
        let directory = verifier.directory
        let chunks = stride(from: 0, to: candidates.count, by: chunkSize).map { Array(candidates[$0..<min($0 + chunkSize, candidates.count)]) }
        let verdicts: [[Bool]] = await withTaskGroup(of: (Int, [Bool]).self) { group in
            for (index, chunk) in chunks.enumerated() {
                group.addTask { (index, chunk.map { attribution, change in attribution.isSigned(for: change, by: directory) }) }
            }
            var parts = [[Bool]](repeating: [], count: chunks.count)
            for await (index, results) in group { parts[index] = results }
            return parts
        }
        let flat = verdicts.flatMap { $0 }
        return (zip(candidates, flat).filter(\.1).map(\.0.0), flat.count { !$0 })
    }

    private func verifyOne(_ change: SignedChange) -> Result<VerifiedChange, ChangeRejection> {
        do throws(ChangeRejection) {
            return .success(try verifier.verify(change))
        } catch {
            return .failure(error)
        }
    }
}
