import AccordAdminAPI
import ArgumentParser
import Foundation

struct Reload: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-read the node's configuration file and the files it names, without a restart (as SIGHUP does).",
        discussion: """
            Peers added, removed or re-addressed; a new certificate and key (new sessions present them); \
            CAs (the file may hold the old and the new one during a rollover); the revocation list (sessions \
            of newly revoked nodes are closed). A reload that fails changes nothing and exits 1 with the \
            reason; node identity, data directory, listen and admin sockets and [sync] timers need a restart.
            """
    )

    @OptionGroup var connection: Connection

    func execute(_ client: AdminClient, json: Bool) async throws {
        let (result, raw): (ReloadResult, [UInt8]) = try await client.post("/v1/reload")
        if json { return Output.json(raw) }
        var lines: [String] = []
        lines += result.peersAdded.map { "peer added: \($0)" }
        lines += result.peersRemoved.map { "peer removed: \($0)" }
        if result.certificateRenewed { lines.append("certificate renewed: new sessions present the new one") }
        lines += result.newlyRevoked.map { "newly revoked: \($0)" }
        lines += result.sessionsClosed.map { "session closed: \($0.node) (\($0.reason))" }
        print(lines.isEmpty ? "reloaded; nothing changed" : (["reloaded"] + lines).joined(separator: "\n  "))
    }
}

struct Backup: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent snapshot of the node's store to FILE while it keeps serving, and check it.",
        discussion: "FILE must not exist; it is written by accordd, readable by its user only. Restore with accordd --restore FILE (docs/operations.md)."
    )

    @OptionGroup var connection: Connection

    @Argument(help: ArgumentHelp("Where to write the backup (a new file).", valueName: "file"))
    var file: String

    /// A snapshot of a large store takes minutes.
    static var defaultTimeout: Duration { .seconds(3600) }

    func execute(_ client: AdminClient, json: Bool) async throws {
        // The daemon resolves the path, from its own working directory: send it absolute.
        let path = URL(fileURLWithPath: file).standardizedFileURL.path
        let (result, raw): (BackupResult, [UInt8]) = try await client.post("/v1/backup", BackupRequest(path: path))
        if json { return Output.json(raw) }
        print("backup written to \(result.path): \(result.bytes) bytes, \(result.agreements) agreement(s), \(result.changes) change(s), through sequence \(result.lastSequence); checked")
    }
}

struct Watch: ControlCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the node's events as they happen: agreements created and changed, approvals, conflicts, peers.",
        discussion: """
            One line per event, or with --json one JSON object per line (JSON Lines). Resume after a \
            disconnect with --since ID (the last id printed): the node replays what it still keeps. An \
            `events-lost` line says events were missed and how to resync.
            """
    )

    @OptionGroup var connection: Connection

    @Option(help: ArgumentHelp("Only the events of this agreement.", valueName: "id"))
    var agreement: String?

    @Option(help: ArgumentHelp("Start after this event id (RUN.SEQUENCE).", valueName: "id"))
    var since: String?

    @Option(help: ArgumentHelp("Exit after this many events.", valueName: "n"))
    var count: Int?

    func validate() throws {
        if let agreement, UUID(uuidString: agreement) == nil { throw ValidationError("\"\(agreement)\" is not an agreement id (a UUID)") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func execute(_ client: AdminClient, json: Bool) async throws {
        var query: [String] = []
        if let agreement { query.append("agreement=\(agreement.lowercased())") }
        if let since, let escaped = since.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) { query.append("since=\(escaped)") }
        let path = "/v1/events" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var printed = 0
        try await client.events(path) { event in
            let line = json ? String(decoding: try encoder.encode(event), as: UTF8.self) : event.summary
            // Written at once, not when a pipe's buffer fills: a script reads each event as it comes.
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
            printed += 1
            return count.map { printed < $0 } ?? true
        }
    }
}

/// `accordctl console token|sessions`.
struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The web console: break-glass login tokens, and who is signed in.",
        subcommands: [ConsoleTokenCommand.self, ConsoleSessionsCommand.self]
    )
}

struct ConsoleSessionsCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List the console's signed-in sessions, or end one.",
        discussion: "An ended session's next request finds no session: its browser is back at the sign-in page."
    )

    @OptionGroup var connection: Connection

    @Option(help: ArgumentHelp("End the session with this handle (as the list shows it).", valueName: "handle"))
    var end: String?

    func execute(_ client: AdminClient, json: Bool) async throws {
        if let end {
            let (_, raw): (ConsoleSessionEnded, [UInt8]) = try await client.delete("/v1/console/sessions/\(end)")
            if json { return Output.json(raw) }
            print("ended console session \(end)")
            return
        }
        let (sessions, raw): ([ConsoleSessionInfo], [UInt8]) = try await client.get("/v1/console/sessions")
        if json { return Output.json(raw) }
        if sessions.isEmpty { return print("no one is signed in") }
        for session in sessions {
            let who = [session.name, session.email.map { "<\($0)>" }].compactMap { $0 }.joined(separator: " ")
            print(
                "\(session.handle)  \(who.isEmpty ? session.subject : who) [\(session.roles.joined(separator: ", "))] via \(session.signIn)"
                    + " from \(session.source), since \(session.openedAt), idle \(session.idleSeconds) s"
            )
        }
    }
}

struct ConsoleTokenCommand: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a single-use login token for the node's web console, and its address.",
        discussion: "Open the address in a browser and paste the token. Anyone who holds the token can log in once, until it expires: hand it over as you would a password."
    )

    @OptionGroup var connection: Connection

    @Option(help: ArgumentHelp("Minutes the token stays valid (1–1440).", valueName: "n"))
    var validMinutes = 60

    func validate() throws {
        guard (1...1440).contains(validMinutes) else { throw ValidationError("--valid-minutes must be within 1–1440") }
    }

    func execute(_ client: AdminClient, json: Bool) async throws {
        let (token, raw): (ConsoleToken, [UInt8]) = try await client.post("/v1/console/tokens", ConsoleTokenRequest(validMinutes: validMinutes))
        if json { return Output.json(raw) }
        print(token.url)
        print("token: \(token.token)")
        print("single use, valid until \(token.expiresAt)")
    }
}

/// `accordctl console-token`, as before `accordctl console token`: the same command.
struct ConsoleTokenShortcut: ControlCommand {
    static let configuration = CommandConfiguration(
        commandName: "console-token", abstract: "The same as `accordctl console token`.", shouldDisplay: false
    )

    @OptionGroup var token: ConsoleTokenCommand
    var connection: Connection { token.connection }

    func execute(_ client: AdminClient, json: Bool) async throws { try await token.execute(client, json: json) }
}
