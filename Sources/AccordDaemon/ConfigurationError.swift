/// A problem with the daemon's configuration, naming the file and the field so an operator can
/// fix it without reading code. `accordd` exits with 78 (EX_CONFIG) on any of these.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public let file: String
    /// The dotted path of the offending field (`peers[1].address`), nil for the file as a whole.
    public let field: String?
    public let message: String

    public init(file: String, field: String?, _ message: String) {
        self.file = file
        self.field = field
        self.message = message
    }

    public var description: String {
        if let field { "\(file): \(field): \(message)" } else { "\(file): \(message)" }
    }
}
