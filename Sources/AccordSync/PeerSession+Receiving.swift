import AccordRefusals
import AccordCrypto
import AccordModel
import AccordStore
import Logging
import NIOCore

/// What a session does with what it receives: frames in order, change batches screened and then
/// made durable before they are acknowledged, acknowledgements of what it sent, certificates.
extension PeerSession {
    func receive(_ inbound: NIOAsyncChannelInboundStream<WireMessage>) async throws {
        for try await message in inbound {
            update { $0.lastHeard = .now }
            count(message, sent: false)
            switch message {
            case .changes(let batch, let encoded):
                let screened = try await services.verifier.screen(encoded) { ids in Set(try await store.verdicts(of: ids).keys) }
                let pending = update { state in
                    defer { (state.pendingAttributions, state.pendingPasskeySignatures) = ([], []) }
                    return (state.pendingAttributions, state.pendingPasskeySignatures)
                }
                let changes = screened.compactMap { if case .verified(let change) = $0 { change } else { nil } }
                try await receivedBatches.send(ReceivedBatch(
                    number: batch, changes: screened, attributions: await checkedAttributions(pending.0, of: changes),
                    passkeySignatures: try await checkedPasskeySignatures(pending.1, of: changes)
                ))
            case .attributions(let attributions):
                // Version 3 on: PeerSessionHandler refuses them in an older session.
                update { $0.pendingAttributions = attributions }
            case .passkeySignatures(let signatures):
                // Version 4 on.
                update { $0.pendingPasskeySignatures = signatures }
            case .acknowledged(let batch):
                try acknowledge(batch)
            case .certificates(let certificates):
                await admit(certificates)
            case .reconcile(let message):
                try await reconcile(message)
            case .heads(let message):
                try await receiveHeads(message)
            case .reconcileRequest:
                if initiatesRounds { roundTrigger.continuation.yield() }
            case .ping, .pong, .hello, .helloAccepted, .error:
                break  // answered or enforced by PeerSessionHandler
            }
        }
    }

    /// Makes received batches durable in order, then acknowledges each: an acknowledgement is a
    /// promise that the batch survives a crash of this node.
    func applyReceived() async throws {
        var badSignatures = 0
        while let batch = await receivedBatches.next() {
            var verified: [VerifiedChange] = []
            var rejections: [ChangeRejection] = []
            var known = 0
            for change in batch.changes {
                switch change {
                case .verified(let change): verified.append(change)
                case .refused(let rejection): rejections.append(rejection)
                case .known: known += 1
                }
            }
            let report = try await store.receive(
                verified, attributions: batch.attributions, passkeySignatures: batch.passkeySignatures, refused: rejections, known: known, from: peer.node, nowMillis: configuration.clock()
            )
            rejections += report.allRejections
            try await send(.acknowledged(batch: batch.number))
            services.metrics.update { metrics in
                metrics.changesReceived += batch.changes.count
                metrics.changesDuplicate += known
                for outcome in report.outcomes {
                    switch outcome {
                    case .accepted: metrics.changesAccepted += 1
                    case .duplicate: metrics.changesDuplicate += 1
                    case .held, .deferred: metrics.changesHeld += 1
                    case .rejected: break
                    }
                }
                for rejection in rejections { metrics.changesRejected[rejection.code.description, default: 0] += 1 }
            }
            if let last = rejections.last {
                services.refusals.refused(
                    "refused changes from peer", reason: last.code.description,
                    metadata: ["peer": "\(peer.node)", "count": "\(rejections.count)", "batch": "\(batch.number)", "detail": "\(last.message)"]
                )
            }
            badSignatures += rejections.count { $0.code == .badSignature }
            if badSignatures > configuration.maximumBadSignatures {
                throw SessionError(
                    .forgedChanges,
                    "the peer sent \(badSignatures) changes with bad signatures; an honest node never sends one"
                )
            }
        }
    }

    /// The attributions of the batch's verified changes that their authors signed; the others
    /// are dropped (the change stays, with no person named), and logged (summarised in a flood).
    private func checkedAttributions(_ encoded: [[UInt8]], of changes: [VerifiedChange]) async -> [Attribution] {
        guard !encoded.isEmpty else { return [] }
        let decoded = encoded.compactMap { try? Attribution(encoded: $0) }
        let (kept, refused) = await services.verifier.check(decoded, of: changes)
        let malformed = encoded.count - decoded.count
        if refused + malformed > 0 {
            services.refusals.refused(
                "refused attributions from peer", reason: "bad-attribution",
                metadata: [
                    "peer": "\(peer.node)", "count": "\(refused + malformed)",
                    "detail": "\(malformed) malformed, \(refused) not signed by the author of the change they name",
                ]
            )
        }
        return kept
    }

    /// The passkey signatures of the batch's approvals that hold; the others are dropped (the
    /// approval stays, shown as not signed by a person) and logged. An approval this node has
    /// already (it came first through a node of an older version, which relays no passkey
    /// signature) is read from the log, or its signature would be lost to the race. Approvals
    /// are rare and the frame's budget is charged a unit per entry, so they are checked here.
    private func checkedPasskeySignatures(_ encoded: [[UInt8]], of changes: [VerifiedChange]) async throws -> [PasskeySignature] {
        guard !encoded.isEmpty else { return [] }
        var byID = Dictionary(changes.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var kept: [PasskeySignature] = []
        var problems: [String] = []
        let decoded = encoded.map { bytes in Result { () throws(ChangeRejection) in try PasskeySignature(encoded: bytes) } }
        let known = decoded.compactMap { try? $0.get().change }.filter { byID[$0] == nil }
        byID.merge(try await store.acceptedChanges(known), uniquingKeysWith: { batch, _ in batch })
        for signature in decoded {
            do {
                let signature = try signature.get()
                guard let change = byID[signature.change] else { continue }  // refused, or not accepted here
                if let problem = signature.problem(for: change, by: services.directory) { problems.append(problem) } else { kept.append(signature) }
            } catch {
                problems.append(error.message)
            }
        }
        if let last = problems.last {
            services.refusals.refused(
                "refused passkey signatures from peer", reason: "bad-passkey-signature",
                metadata: ["peer": "\(peer.node)", "count": "\(problems.count)", "detail": "\(last)"]
            )
        }
        return kept
    }

    /// The peer made a batch durable: the window has room again, and a live-stream batch carries
    /// the cursor on.
    private func acknowledge(_ batch: UInt32) throws {
        try update { state in
            if case .stream(let through) = try state.window.acknowledge(batch) { state.cursor.streamAcknowledged(through: through) }
        }
        services.metrics.update { $0.batchesAcknowledged += 1 }
    }

    /// Admits relayed authors' certificates; one that does not chain to the consortium CA is
    /// dropped and logged (its changes will then be refused as by an unknown author). One
    /// already admitted costs nothing.
    private func admit(_ certificates: [[UInt8]]) async {
        for der in certificates where !services.directory.isAdmitted(SHA256Digest(hashing: der)) {
            do {
                let certificate = try Certificate(derRepresentation: der)
                try services.directory.admit(certificate)
                try await store.rememberCertificate(certificate, nowMillis: configuration.clock())
            } catch {
                services.refusals.refused(
                    "refused a certificate from peer", reason: "certificate-refused", metadata: ["peer": "\(peer.node)", "detail": "\(error)"]
                )
            }
        }
    }
}
