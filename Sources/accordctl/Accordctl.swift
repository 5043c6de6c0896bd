import AccordAdminAPI
import ArgumentParser
import Foundation

@main
struct Accordctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accordctl",
        abstract: "Inspect and drive an Accord node (accordd) through its admin socket.",
        discussion: """
            Every command talks to one node: the socket given with --socket, else $ACCORD_SOCKET, else \
            \(AdminAPI.defaultSocketPath). Edits are signed by that node and synced to the other parties.
            Add --json to any command for the daemon's JSON answer, for scripts.

            Exit status: 0 on success, 1 when the node refused or failed the request, 2 when the node \
            cannot be reached, 3 when `sync --wait` timed out, 64 for a usage error.

            Examples:
              accordctl status
              accordctl agreements create --title "GPU sharing" \\
                  --category technicalResources --party acme --party globex
              accordctl agreements show ID
              accordctl agreements approve ID
              accordctl agreements set ID title "A new title"
              accordctl sync --wait
            """,
        version: "0.1.0",
        subcommands: [Status.self, Peers.self, Agreements.self, Conflicts.self, Sync.self, Watch.self, ConsoleTokenCommand.self, Reload.self, Backup.self, Metrics.self]
    )
}

/// The options every command takes.
struct Connection: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The node's admin socket (default: $ACCORD_SOCKET, else \(AdminAPI.defaultSocketPath)).", valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Print the daemon's JSON answer instead of text.")
    var json = false

    var client: AdminClient {
        AdminClient(socketPath: socket ?? ProcessInfo.processInfo.environment["ACCORD_SOCKET"] ?? AdminAPI.defaultSocketPath)
    }
}

/// A command that talks to the daemon: failures become one line on standard error and an exit code.
protocol ControlCommand: AsyncParsableCommand {
    var connection: Connection { get }
    func execute(_ client: AdminClient, json: Bool) async throws
}

extension ControlCommand {
    func run() async throws {
        do {
            try await execute(connection.client, json: connection.json)
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("accordctl: \(failure.message)\n".utf8))
            throw ExitCode(failure.exitCode)
        }
    }
}

/// An agreement id argument, checked before anything is sent.
struct AgreementArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The agreement's id (as `agreements list` shows it).", valueName: "id"))
    var id: String

    func validate() throws {
        guard UUID(uuidString: id) != nil else { throw ValidationError("\"\(id)\" is not an agreement id (a UUID)") }
    }

    var path: String { "/v1/agreements/\(id.lowercased())" }
}
