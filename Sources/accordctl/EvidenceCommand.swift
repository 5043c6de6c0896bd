import AccordAdminAPI
import ArgumentParser
import Foundation

extension Agreements {
    struct Evidence: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an evidence bundle of the agreement's history to a new folder, checkable by anyone with openssl.",
            discussion: """
                The folder holds every accepted change as its author signed it, each author's certificate, the \
                consortium CA, the terms each approval covers, and verify.sh, which checks all of it with a POSIX \
                shell and the openssl command only, printing who approved which terms when (docs/evidence.md).
                """
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        @Option(name: .customLong("out"), help: ArgumentHelp("The folder to create (it must not exist, or be empty).", valueName: "dir"))
        var folder: String

        func execute(_ client: AdminClient, json: Bool) async throws {
            let (bundle, _): (EvidenceResponse, [UInt8]) = try await client.get("\(agreement.path)/evidence")
            let root = URL(fileURLWithPath: folder).standardizedFileURL
            let manager = FileManager.default
            if let existing = try? manager.contentsOfDirectory(atPath: root.path), !existing.isEmpty {
                throw CommandFailure(exitCode: CommandFailure.refused, message: "\(root.path) is not empty; choose a new folder")
            }
            for file in bundle.files {
                // The paths come from the node: only plain relative ones, never out of the folder.
                let parts = file.path.split(separator: "/")
                guard !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." }), !file.path.hasPrefix("/"),
                    let bytes = Data(base64Encoded: file.base64)
                else {
                    throw CommandFailure(exitCode: CommandFailure.refused, message: "accordd sent a bundle file this accordctl will not write: \(file.path)")
                }
                let target = root.appendingPathComponent(file.path)
                do {
                    try manager.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                    try bytes.write(to: target, options: .withoutOverwriting)
                    try manager.setAttributes([.posixPermissions: file.executable ? 0o755 : 0o644], ofItemAtPath: target.path)
                } catch {
                    throw CommandFailure(exitCode: CommandFailure.refused, message: "cannot write \(target.path): \(error.localizedDescription)")
                }
            }
            if json {
                return Output.json(Array(try AdminAPI.encoder().encode(["folder": root.path, "files": "\(bundle.files.count)"])))
            }
            print("evidence of \(bundle.agreement) written to \(root.path) (\(bundle.files.count) files); check it with: sh \(root.path)/verify.sh")
        }
    }
}
