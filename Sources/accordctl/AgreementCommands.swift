public import AccordAdminAPI
public import ArgumentParser
import Foundation

struct Agreements: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, read, create and edit agreements.",
        subcommands: [List.self, Show.self, Create.self, Set.self, Commitment.self, Approve.self, Terminate.self, Note.self, Party.self, History.self, Diff.self, Evidence.self, Import.self, Export.self, Due.self]
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

    struct Show: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every field of an agreement, its status, approvals (fresh or stale) and delivery to each party."
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        func execute(_ client: AdminClient, json: Bool) async throws {
            let (view, raw): (AgreementView, [UInt8]) = try await client.get(agreement.path)
            if json { return Output.json(raw) }
            Output.fields([
                ("id", view.id), ("reference", view.reference), ("title", view.title ?? "(untitled)"), ("category", view.category ?? "-"),
                ("status", view.status), ("parties", view.parties.joined(separator: ", ")),
                ("effective from", view.effectiveFrom), ("expires on", view.expiresOn),
                ("terms hash", view.termsHash), ("changes", "\(view.changes)"),
            ])
            if !view.framework.isEmpty {
                print("\nframework:")
                Output.fields(view.framework.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, indent: "  ")
            }
            if !view.commitments.isEmpty {
                print("\ncommitments:")
                Output.table(
                    ["  ID", "BY", "KIND", "STATE", "DUE", "DESCRIPTION"],
                    view.commitments.map { ["  " + $0.id, $0.by ?? "-", $0.kind ?? "-", $0.state, $0.dueDate ?? "-", $0.description ?? ""] }
                )
            }
            print("\napprovals:")
            let approved = Dictionary(view.approvals.map { ($0.organisation, $0) }, uniquingKeysWith: { first, _ in first })
            for party in view.parties {
                guard let approval = approved[party] else {
                    print("  \(party): not approved")
                    continue
                }
                let freshness = approval.fresh ? "fresh (covers the current terms)" : "STALE (the terms changed since)"
                print("  \(party): \(freshness), by \(approval.by) at \(Output.when(approval.at))")
                print("    signed by a person: \(approval.passkey ?? "no (only the node signed it)")")
            }
            if !view.delivery.isEmpty {
                print("\ndelivery of this node's latest change:")
                for delivery in view.delivery {
                    let state = delivery.node == nil ? "its node has not been met yet" : delivery.acknowledged ? "acknowledged" : "not yet acknowledged"
                    print("  \(delivery.node ?? delivery.organisation): \(state)")
                }
            }
            if !view.notes.isEmpty {
                print("\nnotes:")
                for note in view.notes {
                    // Continuation lines of a note are indented under it, so the next note is not mistaken for its text.
                    print("  \(Output.when(note.at)) \(note.by): \(note.text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n    "))")
                }
            }
            if let termination = view.termination {
                print("\nterminated by \(termination.by) at \(Output.when(termination.at)): \(termination.reason)")
            }
            if !view.conflicts.isEmpty {
                print("\nconflicts:")
                Conflicts.render(view.conflicts, indent: "  ")
            }
            if !view.held.isEmpty {
                print("\nheld changes:")
                for held in view.held { print("  \(Output.short(held.change)): \(held.reason)") }
            }
            if !view.rejected.isEmpty {
                print("\nrejected changes:")
                for rejected in view.rejected { print("  \(Output.short(rejected.change)): \(rejected.code): \(rejected.message)") }
            }
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
                effectiveFrom: effectiveFrom, expiresOn: expiresOn, allowUnknownParties: allowUnknownParty ? true : nil
            )
            let (created, raw): (CreatedAgreement, [UInt8]) = try await client.post("/v1/agreements", request)
            if json { return Output.json(raw) }
            print(created.id)
        }
    }

    struct Set: ControlCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set one field of an agreement.",
            discussion: "Fields: title, category, framework.<dimension>, effectiveFrom, expiresOn (an empty value clears a date). Changing the terms makes existing approvals stale."
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
            abstract: "Add, update, fulfil, waive, reopen or remove a commitment.",
            discussion: """
                add needs --by, --kind (freeResource, customerAssistance, qualityGuarantee, rdSubsidy, other) \
                and --description, and prints the new commitment's id; the other actions take that id.
                  accordctl agreements commitment ID add --by acme \\
                      --kind freeResource --description "GPU hours"
                  accordctl agreements commitment ID fulfil COMMITMENT-ID
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

        func validate() throws {
            if action == .add, commitment != nil { throw ValidationError("add creates a new commitment; do not give an id") }
            if action != .add, commitment == nil { throw ValidationError("\(action.rawValue) needs the commitment's id") }
        }

        func execute(_ client: AdminClient, json: Bool) async throws {
            let request = CommitmentRequest(action: action, commitment: commitment, by: by, kind: kind, description: description, dueDate: due)
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
        static let configuration = CommandConfiguration(abstract: "End the agreement; this cannot be undone.")

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        @Option(help: "Why it ends (kept in the agreement).")
        var reason: String

        func execute(_ client: AdminClient, json: Bool) async throws {
            try await Receipt.print(try await client.post("\(agreement.path)/terminate", TerminateRequest(reason: reason)), json: json)
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
            abstract: "Add a party (it receives the agreement's history), or withdraw this node's own organisation."
        )

        @OptionGroup var connection: Connection
        @OptionGroup var agreement: AgreementArgument

        @Argument(help: "add or withdraw.")
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
