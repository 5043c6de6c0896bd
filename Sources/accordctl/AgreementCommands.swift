public import AccordAdminAPI
public import ArgumentParser
import Foundation

struct Agreements: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, read, create and edit agreements.",
        subcommands: [
            List.self, Show.self, Create.self, Set.self, Commitment.self, Approve.self, Terminate.self, Void.self, Note.self, Party.self, History.self, Diff.self, Evidence.self, Import.self, Export.self, Due.self,
        ]
    )

    struct List: ControlCommand {
        static let configuration = CommandConfiguration(abstract: "The agreements this node holds.")

        @OptionGroup var connection: Connection

        @Option(help: ArgumentHelp("Only agreements this organisation is a party to.", valueName: "organisation"))
        var party: String?

        @Option(help: ArgumentHelp("Only agreements in this status: draft, proposed, active, expired or terminated.", valueName: "status"))
        var status: String?

        func execute(_ client: AdminClient, json: Bool) async throws {
            var query: [URLQueryItem] = []
            if let party { query.append(URLQueryItem(name: "party", value: party)) }
            if let status { query.append(URLQueryItem(name: "status", value: status)) }
            var components = URLComponents(string: "/v1/agreements")!
            components.queryItems = query.isEmpty ? nil : query
            // A form-encoded query reads `+` as a space: send it encoded.
            components.percentEncodedQuery = components.percentEncodedQuery?.replacing("+", with: "%2B")
            let (agreements, raw): ([AgreementListItem], [UInt8]) = try await client.get(components.string!)
            if json { return Output.json(raw) }
            guard !agreements.isEmpty else { return print("no agreements") }
            Output.table(
                ["ID", "STATUS", "CATEGORY", "PARTIES", "CHANGES", "CONFLICTS", "TITLE"],
                agreements.map {
                    [$0.id, $0.status, $0.category ?? "-", $0.parties.joined(separator: ","), "\($0.changes)", "\($0.conflicts)", $0.title ?? "(untitled)"]
                }
            )
        }
    }

    struct Create: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an agreement and print its id.",
            discussion: """
                This node's organisation must be one of the parties, and every party an organisation this node knows \
                (its own, a configured peer's, or one it holds a certificate of) unless --allow-unknown-party. \
                Framework dimensions: valueAlignment, technicalFit, serviceCoverage, dataProtection, returnMechanism.
                """
        )

        @OptionGroup var connection: Connection

        @Option(help: "The agreement's title.")
        var title: String

        @Option(help: "technicalResources, fullSupport or financialSupport.")
        var category: String

        @Option(name: .customLong("party"), help: ArgumentHelp("A party organisation; repeat for each (two or more).", valueName: "organisation"))
        var parties: [String] = []

        @Option(name: .customLong("framework"), help: ArgumentHelp("A framework dimension's text; repeatable.", valueName: "dimension=text"))
        var framework: [String] = []

        @Option(help: ArgumentHelp("When the agreement takes effect.", valueName: "YYYY-MM-DD"))
        var effectiveFrom: String?

        @Option(help: ArgumentHelp("When the agreement expires.", valueName: "YYYY-MM-DD"))
        var expiresOn: String?

        @Option(help: ArgumentHelp("Days of notice a party's termination needs before it takes effect.", valueName: "days"))
        var noticePeriod: Int?

        @Flag(help: "Accept parties this node knows no certificate or peer of (a new partner, named on purpose).")
        var allowUnknownParty = false

        func validate() throws {
            guard parties.count >= 2 else { throw ValidationError("an agreement needs two or more --party") }
            for entry in framework where !entry.contains("=") { throw ValidationError("--framework takes dimension=text, not \"\(entry)\"") }
        }

        func execute(_ client: AdminClient, json: Bool) async throws {
            var dimensions: [String: String] = [:]
            for entry in framework {
                let parts = entry.split(separator: "=", maxSplits: 1)
                dimensions[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            let request = CreateAgreementRequest(
                title: title, category: category, parties: parties, framework: dimensions.isEmpty ? nil : dimensions,
                effectiveFrom: effectiveFrom, expiresOn: expiresOn, allowUnknownParties: allowUnknownParty ? true : nil,
                noticePeriod: noticePeriod.map(String.init)
            )
            let (created, raw): (CreatedAgreement, [UInt8]) = try await client.post("/v1/agreements", request)
            if json { return Output.json(raw) }
            print(created.id)
        }
    }

    struct Set: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set one field of an agreement.",
            discussion: """
                Fields: title, category, framework.<dimension>, effectiveFrom, expiresOn, noticePeriod (days) \
                (an empty value clears a date or the notice). Changing the terms makes existing approvals stale.
                """
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        @Argument(help: "The field's name.")
        var field: String

        @Argument(help: "Its new value.")
        var value: String

        func execute(_ client: AdminClient, json: Bool) async throws {
            try await Receipt.print(try await client.post("\(agreement.path)/fields", SetFieldRequest(field: field, value: value)), json: json)
        }
    }

    struct Commitment: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add, update or remove a commitment, or record its fulfilment: claim, confirm, dispute, waive.",
            discussion: """
                add needs --by, --kind (freeResource, customerAssistance, qualityGuarantee, rdSubsidy, other) \
                and --description, and prints the new commitment's id; the other actions take that id. \
                The party that owes claims fulfilment (--text: a note); a party owed confirms, disputes \
                (--text: the reason, required; it is open again) or waives. fulfil is claim for the party \
                that owes and confirm for a party owed. A recurring commitment (--every, --from, --until) \
                is stepped one period at a time (--period, as `agreements due` lists it).
                  accordctl agreements commitment ID add --by acme \\
                      --kind freeResource --description "GPU hours" --amount "EUR 40000" \\
                      --every monthly --from 2027-01-01 --until 2027-12-01
                  accordctl agreements commitment ID claim COMMITMENT-ID --period 2027-01-01 --text "delivered"
                """
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        @Argument(help: "What to do.")
        var action: CommitmentRequest.Action

        @Argument(help: ArgumentHelp("The commitment's id (all actions but add).", valueName: "commitment-id"))
        var commitment: String?

        @Option(help: ArgumentHelp("The organisation that commits.", valueName: "organisation"))
        var by: String?

        @Option(help: "freeResource, customerAssistance, qualityGuarantee, rdSubsidy or other.")
        var kind: String?

        @Option(help: "What is committed.")
        var description: String?

        @Option(help: ArgumentHelp("When it is due (empty clears it).", valueName: "YYYY-MM-DD"))
        var due: String?

        @Option(help: ArgumentHelp("An exact amount with its ISO 4217 currency (empty clears it).", valueName: "\"EUR 40000.50\""))
        var amount: String?

        @Option(help: ArgumentHelp("monthly, quarterly or yearly (none: a one-off).", valueName: "recurrence"))
        var every: String?

        @Option(help: ArgumentHelp("The first period of a recurring commitment.", valueName: "YYYY-MM-DD"))
        var from: String?

        @Option(help: ArgumentHelp("The last day a period may fall on.", valueName: "YYYY-MM-DD"))
        var until: String?

        @Option(help: ArgumentHelp("The period a step is about (recurring commitments).", valueName: "YYYY-MM-DD"))
        var period: String?

        @Option(help: "A claim's note or a dispute's reason.")
        var text: String?

        func validate() throws {
            if action == .add, commitment != nil { throw ValidationError("add creates a new commitment; do not give an id") }
            if action != .add, commitment == nil { throw ValidationError("\(action.rawValue) needs the commitment's id") }
        }

        func execute(_ client: AdminClient, json: Bool) async throws {
            let request = CommitmentRequest(
                action: action, commitment: commitment, by: by, kind: kind, description: description, dueDate: due, amount: amount,
                every: every, from: from, until: until, period: period, text: text
            )
            let (receipt, raw): (ChangeReceipt, [UInt8]) = try await client.post("\(agreement.path)/commitments", request)
            if json { return Output.json(raw) }
            if action == .add, let id = receipt.commitment { print("commitment \(id)") }
            try await Receipt.print((receipt, raw), json: false)
        }
    }

    struct Approve: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve the agreement's current terms as this node's organisation (a signature over the terms hash).",
            discussion: "With --terms-hash (from `agreements show`), nothing is signed if the terms changed since you read them."
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        @Option(help: ArgumentHelp("The terms hash you read; refuse if the terms are different now.", valueName: "hex"))
        var termsHash: String?

        func execute(_ client: AdminClient, json: Bool) async throws {
            try await Receipt.print(try await client.post("\(agreement.path)/approve", ApproveRequest(termsHash: termsHash)), json: json)
        }
    }

    struct Terminate: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "End the agreement, or agree to end it; this cannot be undone.",
            discussion: """
                The first party to terminate gives notice: the agreement is `terminating` until the end of the terms' \
                notice period (at once without one). Once another party has terminated, this agrees; when every \
                party has, it ends at once.
                """
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        @Option(help: "Why it ends (kept in the agreement).")
        var reason: String

        func execute(_ client: AdminClient, json: Bool) async throws {
            try await Receipt.print(try await client.post("\(agreement.path)/terminate", TerminateRequest(reason: reason)), json: json)
        }
    }

    struct Void: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Void a draft this node's organisation created, before any party approved it.",
            discussion: "A void agreement is hidden from `agreements list` (list --status void shows it) and kept in the history."
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        @Option(help: "Why (a duplicate, created by mistake…).")
        var reason: String

        func execute(_ client: AdminClient, json: Bool) async throws {
            try await Receipt.print(try await client.post("\(agreement.path)/void", VoidRequest(reason: reason)), json: json)
        }
    }

    struct Note: ControlCommand {
        static let configuration = CommandConfiguration(abstract: "Append a note (notes are never removed).")

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        @Argument(help: "The note's text.")
        var text: String

        func execute(_ client: AdminClient, json: Bool) async throws {
            try await Receipt.print(try await client.post("\(agreement.path)/notes", NoteRequest(text: text)), json: json)
        }
    }

    struct Party: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a party (it receives the agreement's history), withdraw this node's own organisation, or remove one that never approved.",
            discussion: """
                remove consents to removing a party that never approved (a misspelt or mistaken one); the last \
                other party to consent removes it. The removed party keeps the history up to its removal.
                """
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        @Argument(help: "add, withdraw or remove.")
        var action: PartyRequest.Action

        @Argument(help: "The organisation.")
        var organisation: String

        @Flag(help: "Accept an organisation this node knows no certificate or peer of (a new partner, named on purpose).")
        var allowUnknownParty = false

        func execute(_ client: AdminClient, json: Bool) async throws {
            let request = PartyRequest(action: action, organisation: organisation, allowUnknownParty: allowUnknownParty ? true : nil)
            try await Receipt.print(try await client.post("\(agreement.path)/parties", request), json: json)
        }
    }

    struct History: ControlCommand {
        static let configuration = CommandConfiguration(abstract: "The agreement's changes in the order this node accepted them.")

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        func execute(_ client: AdminClient, json: Bool) async throws {
            let (history, raw): ([HistoryItem], [UInt8]) = try await client.get("\(agreement.path)/history")
            if json { return Output.json(raw) }
            Output.table(
                ["SEQ", "CHANGE", "BY", "STAMPED", "EDITS"],
                history.map { ["\($0.sequence)", Output.short($0.change), $0.by, String($0.at.prefix(19)), $0.edits.joined(separator: "; ")] }
            )
        }
    }
}

extension Agreements {
    struct Diff: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "What changed in the terms, field by field: since a party's approval, or between two changes of the history.",
            discussion: "With --since-approval ORG: the terms ORG last approved against the current terms. With --from N [--to M]: the terms after change N (0: before the first) against those after change M (default: the current terms). Sequence numbers are those of `agreements history`."
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument
        @Option(name: .customLong("since-approval"), help: ArgumentHelp("An organisation whose last approval to compare with.", valueName: "org"))
        var sinceApproval: String?
        @Option(help: ArgumentHelp("Compare from the terms after this change.", valueName: "n")) var from: Int64?
        @Option(help: ArgumentHelp("… to the terms after this change.", valueName: "m")) var to: Int64?

        func validate() throws {
            guard (sinceApproval == nil) != (from == nil) else { throw ValidationError("give --since-approval ORG, or --from N (and --to M)") }
            if to != nil && from == nil { throw ValidationError("--to needs --from") }
        }

        func execute(_ client: AdminClient, json: Bool) async throws {
            var query = URLComponents()
            query.queryItems =
                sinceApproval.map { [URLQueryItem(name: "sinceApproval", value: $0)] }
                ?? [URLQueryItem(name: "from", value: from.map(String.init))] + (to.map { [URLQueryItem(name: "to", value: String($0))] } ?? [])
            let (difference, raw): (TermsDifferenceView, [UInt8]) = try await client.get("\(agreement.path)/diff?\(query.percentEncodedQuery ?? "")")
            if json { return Output.json(raw) }
            print("from \(difference.from) (terms \(difference.fromTermsHash.prefix(16))…)")
            print("to   \(difference.to) (terms \(difference.toTermsHash.prefix(16))…)")
            if difference.changes.isEmpty { return print("no difference: the terms are the same") }
            for change in difference.changes { print("- \(change.description)") }
        }
    }
}

/// What an edit command prints: the change it made.
enum Receipt {
    static func print(_ answer: (ChangeReceipt, [UInt8]), json: Bool) async throws {
        if json { return Output.json(answer.1) }
        Swift.print("change \(Output.short(answer.0.change)) committed (sequence \(answer.0.sequence))")
    }
}

extension CommitmentRequest.Action: ExpressibleByArgument {}
extension PartyRequest.Action: ExpressibleByArgument {}
