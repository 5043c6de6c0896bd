public import AccordModel

/// Decodes and verifies the signed changes of a batch on every core, off the event loops: P-256
/// verification is the dominant cost of catching up (about 13,000 per second per core here).
public struct ParallelVerifier: Sendable {
    public let verifier: ChangeVerifier
    /// Changes per task: small enough to spread a batch over the cores, large enough that task
    /// overhead stays invisible next to the signature checks.
    public var chunkSize = 64

    public init(verifier: ChangeVerifier) { self.verifier = verifier }

    /// Each encoded change decoded and verified, or why not, in the order given.
    public func verify(_ encoded: [[UInt8]]) async -> [Result<VerifiedChange, ChangeRejection>] {
        guard encoded.count > chunkSize else { return encoded.map(verifyOne) }
        let chunks = stride(from: 0, to: encoded.count, by: chunkSize).map { $0..<min($0 + chunkSize, encoded.count) }
        return await withTaskGroup(of: (Int, [Result<VerifiedChange, ChangeRejection>]).self) { group in
            for (index, range) in chunks.enumerated() {
                let slice = Array(encoded[range])
                group.addTask { (index, slice.map(verifyOne)) }
            }
            var parts = [[Result<VerifiedChange, ChangeRejection>]](repeating: [], count: chunks.count)
            for await (index, results) in group { parts[index] = results }
            return parts.flatMap { $0 }
        }
    }

    private func verifyOne(_ bytes: [UInt8]) -> Result<VerifiedChange, ChangeRejection> {
        do throws(ChangeRejection) {
            return .success(try verifier.verify(try SignedChange(encoded: bytes)))
        } catch {
            return .failure(error)
        }
    }
}
