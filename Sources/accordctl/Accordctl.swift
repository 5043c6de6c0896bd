import AccordAdminAPI
import ArgumentParser
import Foundation

@main
struct Accordctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accordctl",
        abstract: "Inspect and drive an Accord node (accordd) through its admin socket.",
        discussion: """
            Every command talks to one node: the socket given with --socket (before or after the \
            command), else $ACCORD_SOCKET, else \
            \(AdminAPI.defaultSocketPath). Edits are signed by that node and synced to the other parties.
            Add --json to any command for the daemon's JSON answer, for scripts.

            Exit status: 0 on success, 1 when the node refused or failed the request, 2 when the node \
            cannot be reached or did not answer within --timeout, 3 when `sync --wait` timed out, 64 for \
            a usage error.

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
        subcommands: [Status.self, Peers.self, Agreements.self, Conflicts.self, Sync.self, Watch.self, ConsoleCommand.self, ConsoleTokenShortcut.self, Reload.self, Backup.self, Metrics.self]
    )

    /// `--socket`, `--timeout` and `--json` are taken before the subcommand too (`GlobalOptions`).
    static func main() async {
        await main(GlobalOptions.placed(Array(CommandLine.arguments.dropFirst())))
    }
}

/// The options every command takes.
struct Connection: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The node's admin socket (default: $ACCORD_SOCKET, else \(AdminAPI.defaultSocketPath)).", valueName: "path"))
    var socket: String?

    @Flag(name: .long, help: "Print the daemon's JSON answer instead of text.")
    var json = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How long to wait for the node's answer, in seconds (default 60; backup 3600; sync --wait: how long to wait until in sync, default 120).",
            valueName: "seconds"
        )
    )
    var timeout: Int?

    func validate() throws {
        if let timeout, timeout <= 0 { throw ValidationError("--timeout takes a number of seconds above 0") }
    }

    func client(defaultTimeout: Duration) -> AdminClient {
        AdminClient(
            socketPath: socket ?? ProcessInfo.processInfo.environment["ACCORD_SOCKET"] ?? AdminAPI.defaultSocketPath,
            timeout: timeout.map { .seconds($0) } ?? defaultTimeout
        )
    }
}

/// A command that talks to the daemon: failures become one line on standard error and an exit code.
protocol ControlCommand: AsyncParsableCommand {
    var connection: Connection { get }
    /// How long a request waits for the node's answer unless `--timeout` says otherwise.
    static var defaultTimeout: Duration { get }
    func execute(_ client: AdminClient, json: Bool) async throws
}

extension ControlCommand {
    static var defaultTimeout: Duration { .seconds(60) }

    func run() async throws {
        do {
            try await execute(connection.client(defaultTimeout: Self.defaultTimeout), json: connection.json)
        } catch let failure as CommandFailure {
            FileHandle.standardError.write(Data("accordctl: \(failure.message)\n".utf8))
            throw ExitCode(failure.exitCode)
        }
    }
}

/// An agreement argument: its id, or the reference it was imported under (`crm-4701`).
struct AgreementArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The agreement's id (as `agreements list` shows it), or the reference it was imported under.", valueName: "id"))
    var id: String

    func validate() throws {
        guard !id.isEmpty else { throw ValidationError("an agreement id or reference is needed") }
    }

    var path: String {
        if UUID(uuidString: id) != nil { return "/v1/agreements/\(id.lowercased())" }
        return "/v1/agreements/\(id.addingPercentEncoding(withAllowedCharacters: .urlUnreservedCharacters) ?? id)"
    }
}

extension CharacterSet {
    /// RFC 3986's unreserved characters: what a path segment may hold without encoding.
    static let urlUnreservedCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
