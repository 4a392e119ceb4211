/// An error in a configuration file, naming the file and line it was found on.
///
/// The ``description`` is the message an operator sees, in the
/// `file:line: message` form compilers and OpenDKIM use, so that
/// `fedmail-milter -n` and `fedmail-broker -n` point at the line to fix.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of mistake the file contains.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }

        /// A `Name` that the program does not know.
        public static let unknownName = Code("unknown-name")
        /// A line with a name but no value.
        public static let missingValue = Code("missing-value")
        /// A value that does not parse for its name.
        public static let badValue = Code("bad-value")
        /// A single-valued name given more than once.
        public static let duplicateName = Code("duplicate-name")
        /// A name the program needs is absent.
        public static let missingName = Code("missing-name")
        /// Two settings that cannot be used together.
        public static let conflict = Code("conflict")
        /// The file could not be read.
        public static let unreadable = Code("unreadable")

        public var description: String { name }
    }

    /// The kind of mistake.
    public var code: Code
    /// The file, as the operator named it.
    public var file: String
    /// The 1-based line number, or `nil` when the error concerns the whole file.
    public var line: Int?
    /// What is wrong, in words an operator understands.
    public var message: String

    public init(code: Code, file: String, line: Int?, message: String) {
        self.code = code
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}
