import AccordCrypto
import AccordDaemon
import AccordModel
import AccordSync
import AccordTestSupport
import Foundation
import NIOCore

// libFuzzer targets (docs/reliability.md, "Fuzzing"), one binary for all; ACCORD_FUZZ_TARGET picks
// one: `frame` (the peer frame decoder), `change` (the change decoder and signature check),
// `config` (the TOML configuration parser), `admin` (the admin API's edit request decoding).
// Built with `-sanitize=fuzzer`; SwiftPM links executables with `main` renamed to
// `accord_fuzz_main`, so that is where libFuzzer's driver is started from.

#if ACCORD_LIBFUZZER
/// libFuzzer's driver, linked in by `-sanitize=fuzzer` (scripts/fuzz.sh also defines ACCORD_LIBFUZZER).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

@_cdecl("accord_fuzz_main")
func accordFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    guard FuzzTarget.current != nil else {
        FileHandle.standardError.write(Data("set ACCORD_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue))\n".utf8))
        return 64
    }
    #if ACCORD_LIBFUZZER
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        FuzzTarget.current?.run(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
    #else
    // An ordinary build: the committed corpus and seeded random inputs (see `replay`).
    let target = FuzzTarget.current!
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.first == "--write-seeds", arguments.count == 2 { return target.writeSeeds(to: arguments[1]) }
    return target.replay(arguments)
    #endif
}

enum FuzzTarget: String, CaseIterable {
    case frame, change, config, admin

    static let current = ProcessInfo.processInfo.environment["ACCORD_FUZZ_TARGET"].flatMap(FuzzTarget.init(rawValue:))

    /// A key any `change` input may claim to be signed by: the first bytes choose the author.
    private static let signer = ChangeSigner(node: NodeID(organisation: "acme", name: "node1")!, key: try! P256PrivateKey.generate())
    private static let verifier = ChangeVerifier(directory: StaticAuthorDirectory([signer.node: signer.publicKey]))

    /// Without libFuzzer: every file of the folders and files given, then 10,000 random inputs
    /// (seed from ACCORD_FUZZ_SEED, printed), each also truncated and with a byte flipped.
    func replay(_ paths: [String]) -> CInt {
        var inputs: [[UInt8]] = []
        for path in paths where !path.hasPrefix("-") {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: path)).map { $0.map { "\(path)/\($0)" } } ?? [path]
            for file in files { if let data = FileManager.default.contents(atPath: file) { inputs.append(Array(data)) } }
        }
        let seed = ProcessInfo.processInfo.environment["ACCORD_FUZZ_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max)
        var random = SplitMix64(seed: seed)
        for _ in 0..<10_000 {
            inputs.append((0..<Int(random.next() % 512)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        }
        // Each input is written to `crash-input` first, so a crash leaves the input that caused it.
        let trace = "crash-input-\(rawValue)"
        func attempt(_ input: [UInt8]) {
            _ = FileManager.default.createFile(atPath: trace, contents: Data(input))
            run(input)
        }
        for input in inputs {
            attempt(input)
            attempt(Array(input.prefix(Int(random.next() % UInt64(input.count + 1)))))
            var flipped = input
            if !flipped.isEmpty { flipped[Int(random.next() % UInt64(flipped.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1) }
            attempt(flipped)
        }
        try? FileManager.default.removeItem(atPath: trace)
        print("accord-fuzz \(rawValue): \(inputs.count) inputs (seed \(seed)) without a crash")
        return 0
    }

    /// Writes this target's corpus seeds (committed under Tests/Fuzz/Corpus/TARGET): valid inputs
    /// the fuzzer mutates from.
    func writeSeeds(to folder: String) -> CInt {
        var seeds: [[UInt8]] = []
        let node = Self.signer.node
        let change = try! Self.signer.sign(Change.genesis(
            stamp: Stamp(millis: 1_790_000_000_000, counter: 0, node: node),
            edits: [.set(.title, .text("GPU sharing")), .set(.category, .category(.technicalResources)), .addParty("acme"), .addParty("globex")]
        ))
        switch self {
        case .frame:
            let messages: [WireMessage] = [
                .hello(.init(minimumVersion: 1, maximumVersion: 1, node: node, clockMillis: 1_790_000_000_000)),
                .helloAccepted(version: 1), .error(code: 1, message: "protocol violation"), .ping(nonce: 7), .pong(nonce: 7),
                .changes(batch: 1, encoded: [change.signed.encoded]), .acknowledged(batch: 1), .reconcileRequest,
                .reconcile(RangeMessage(ranges: [
                    .init(upperBound: nil, claim: .symbols(start: 0, count: 2, [CodedSymbol(sum: SymbolItem(words: (1, 2, 3, 4)), checksum: 5, count: 2)])),
                ])),
                .reconcile(RangeMessage(ranges: [.init(upperBound: nil, claim: .moreSymbols(next: 1))])),
                // Versions 3 and 4: their entries are decoded after the frame, by the session.
                .attributions([Array(repeating: 1, count: 120)]), .passkeySignatures([Array(repeating: 2, count: 400), [3]]),
            ]
            seeds = messages.map(FrameEncoder.frame)
            seeds.append(messages.flatMap(FrameEncoder.frame))
        case .change:
            seeds = [change.signed.encoded]
        case .config:
            let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            for name in ["deploy/examples/acme.toml", "deploy/accordd.example.toml"] {
                seeds.append(Array(FileManager.default.contents(atPath: repository.appendingPathComponent(name).path) ?? Data()))
            }
        case .admin:
            let actions = [AdminRequestDecoding.create] + AdminRequestDecoding.editActions.sorted()
            let bodies = [
                #"{"title":"GPU sharing","category":"technicalResources","parties":["acme","globex"],"framework":{"technicalFit":"x"},"effectiveFrom":"2027-01-01"}"#,
                #"{"action":"add","by":"acme","kind":"freeResource","description":"GPU hours","dueDate":"2027-06-30"}"#,
                #"{"field":"framework.dataProtection","value":"EU only"}"#,
                #"{"action":"add","organisation":"initech"}"#, #"{"reason":"ended"}"#, #"{"text":"a note"}"#,
            ]
            let actionOf = ["create": 0, "commitments": 1, "fields": 2, "parties": 3, "terminate": 4, "notes": 5]
            for (index, action) in actions.enumerated() {
                seeds.append([UInt8(index)] + Array(bodies[actionOf[action] ?? 0].utf8))
            }
        }
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (index, seed) in seeds.enumerated() {
            _ = FileManager.default.createFile(atPath: "\(folder)/seed-\(index)", contents: Data(seed))
        }
        print("accord-fuzz \(rawValue): \(seeds.count) seeds written to \(folder)")
        return 0
    }

    func run(_ bytes: [UInt8]) {
        switch self {
        case .frame:
            // Every frame that decodes encodes back to the same bytes; nothing else may happen
            // than a typed error.
            var buffer = ByteBuffer(bytes: bytes)
            while true {
                let start = buffer.readerIndex
                guard let message = try? FrameDecoder.nextMessage(from: &buffer, maximumFrameBytes: FrameDecoder.defaultMaximumFrameBytes) else { break }
                let consumed = Array(bytes[start..<buffer.readerIndex])
                precondition(FrameEncoder.frame(message) == consumed, "a decoded frame does not encode back to its bytes")
            }
        case .change:
            guard let signed = try? SignedChange(encoded: bytes) else { return }
            precondition(signed.encoded == bytes, "a decoded change does not encode back to its bytes")
            _ = try? Self.verifier.verify(signed)
        case .config:
            _ = try? DaemonConfiguration.parse(String(decoding: bytes, as: UTF8.self), file: "/fuzz/accordd.toml")
        case .admin:
            guard let action = bytes.first else { return }
            let actions = [AdminRequestDecoding.create] + AdminRequestDecoding.editActions.sorted()
            _ = try? AdminRequestDecoding.edits(for: actions[Int(action) % actions.count], body: Array(bytes.dropFirst()))
        }
    }
}

