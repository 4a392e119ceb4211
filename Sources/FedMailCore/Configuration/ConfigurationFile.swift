/// One `Name value` line of a configuration file.
public struct ConfigurationEntry: Sendable, Hashable {
    /// The name as written in the file.
    public var name: String
    /// The value: everything after the name, with surrounding white space
    /// and any trailing comment removed. Never empty.
    public var value: String
    /// The 1-based line number the entry is on.
    public var line: Int

    /// The name folded to lower case: names are case-insensitive.
    public var key: String { name.lowercased() }

    public init(name: String, value: String, line: Int) {
        self.name = name
        self.value = value
        self.line = line
    }
}

/// A configuration file in the OpenDKIM style.
///
/// - One `Name value` per line; the name is separated from the value by
///   white space, the value runs to the end of the line.
/// - `#` at the start of a line or after white space starts a comment;
///   write `\#` for a literal `#` in a value.
/// - Names are case-insensitive; blank lines are ignored.
///
/// Parsing is pure: the caller reads the file and passes its text, so the
/// same parser serves the milter, the broker and the tests.
public struct ConfigurationFile: Sendable {
    /// The file name used in error messages.
    public var path: String
    /// The entries in file order.
    public var entries: [ConfigurationEntry]

    /// Parses configuration text.
    ///
    /// - Parameters:
    ///   - text: the file contents.
    ///   - path: the file name to use in error messages.
    /// - Throws: ``ConfigurationError`` with code `missingValue` for a line
    ///   that has a name and nothing else, or `badValue` for a line with a
    ///   control character in it.
    public init(parsing text: String, path: String) throws(ConfigurationError) {
        self.path = path
        var entries: [ConfigurationEntry] = []
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let line = rawLine
            let content = Self.removingComment(line)
            if content.contains(where: { $0.asciiValue.map { $0 < 0x20 && $0 != 0x09 } ?? false }) {
                throw ConfigurationError(code: .badValue, file: path, line: lineNumber,
                                         message: "control character in line")
            }
            let trimmed = content.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            let nameEnd = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? trimmed.endIndex
            let name = String(trimmed[..<nameEnd])
            let value = String(trimmed[nameEnd...].trimmingWhitespace())
            if value.isEmpty {
                throw ConfigurationError(code: .missingValue, file: path, line: lineNumber,
                                         message: "'\(name)' needs a value")
            }
            entries.append(ConfigurationEntry(name: name, value: value, line: lineNumber))
        }
        self.entries = entries
    }

    /// Checks that every name is one of `knownNames` (compared case-insensitively)
    /// and that names not in `repeatableNames` appear at most once.
    ///
    /// - Throws: ``ConfigurationError`` `unknownName` or `duplicateName`
    ///   for the first offending line.
    public func validate(knownNames: Set<String>, repeatableNames: Set<String> = []) throws(ConfigurationError) {
        let known = Set(knownNames.map { $0.lowercased() })
        let repeatable = Set(repeatableNames.map { $0.lowercased() })
        var seen: [String: Int] = [:]
        for entry in entries {
            guard known.contains(entry.key) else {
                throw error(.unknownName, at: entry, "unknown name '\(entry.name)'")
            }
            if let first = seen[entry.key], !repeatable.contains(entry.key) {
                throw error(.duplicateName, at: entry,
                            "'\(entry.name)' is already set on line \(first)")
            }
            seen[entry.key] = seen[entry.key] ?? entry.line
        }
    }

    /// The last entry with this name (case-insensitive), if any.
    public func entry(_ name: String) -> ConfigurationEntry? {
        let key = name.lowercased()
        return entries.last(where: { $0.key == key })
    }

    /// Every entry with this name (case-insensitive), in file order.
    public func entries(_ name: String) -> [ConfigurationEntry] {
        let key = name.lowercased()
        return entries.filter { $0.key == key }
    }

    /// An error located at `entry`'s line in this file.
    public func error(_ code: ConfigurationError.Code, at entry: ConfigurationEntry, _ message: String) -> ConfigurationError {
        ConfigurationError(code: code, file: path, line: entry.line, message: message)
    }

    /// An error about the file as a whole (for example a missing required name).
    public func error(_ code: ConfigurationError.Code, _ message: String) -> ConfigurationError {
        ConfigurationError(code: code, file: path, line: nil, message: message)
    }

    /// The line with any comment removed; `\#` becomes a literal `#`.
    static func removingComment(_ line: Substring) -> String {
        var result = ""
        var previous: Character = " "
        var index = line.startIndex
        while index < line.endIndex {
            let character = line[index]
            if character == "\\", line.index(after: index) < line.endIndex, line[line.index(after: index)] == "#" {
                result.append("#")
                index = line.index(index, offsetBy: 2)
                previous = "#"
                continue
            }
            if character == "#", previous == " " || previous == "\t" { break }
            result.append(character)
            previous = character
            index = line.index(after: index)
        }
        return result
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    func trimmingWhitespace() -> SubSequence {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }),
              let last = lastIndex(where: { !isBlank($0) }) else { return self[endIndex...] }
        return self[first...last]
    }
}
