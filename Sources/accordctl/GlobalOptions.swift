/// The options every command takes (`Connection`: `--socket`, `--timeout`, `--json`) are declared
/// by each subcommand, so ArgumentParser takes them only after the subcommand's name. People type
/// them first as often (`accordctl --socket /run/accord/b.sock status`); those written before the
/// first subcommand are moved to the end of the arguments (before a `--`), where every command
/// reads them.
enum GlobalOptions {
    /// Options that take a value in the next argument.
    static let withValue: Set<String> = ["--socket", "--timeout"]
    static let flags: Set<String> = ["--json"]

    static func placed(_ arguments: [String]) -> [String] {
        var moved: [String] = []
        var index = arguments.startIndex
        scan: while index < arguments.endIndex {
            let argument = arguments[index]
            let name = String(argument.prefix { $0 != "=" })
            switch argument {
            case _ where withValue.contains(argument) && index + 1 < arguments.endIndex:
                moved += arguments[index...(index + 1)]
                index += 2
            case _ where flags.contains(argument) || (withValue.contains(name) && argument.contains("=")):
                moved.append(argument)
                index += 1
            default:
                break scan
            }
        }
        var rest = Array(arguments[index...])
        rest.insert(contentsOf: moved, at: rest.firstIndex(of: "--") ?? rest.endIndex)
        return rest
    }
}
