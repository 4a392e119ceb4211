/// The `Authentication-Results` header field (RFC 8601) that the opening
/// milter adds, and the recognition of fields that claim our authserv-id
/// (which must be removed: only we may speak under our name).
public struct AuthenticationResults: Sendable, Hashable {
    /// One `method=result` statement with its properties.
    public struct Result: Sendable, Hashable {
        public var method: String
        public var result: String
        public var reason: String?
        /// Properties such as `header.from=example.org`, in order.
        public var properties: [(String, String)]

        public init(method: String, result: String, reason: String? = nil, properties: [(String, String)] = []) {
            self.method = method
            self.result = result
            self.reason = reason
            self.properties = properties
        }

        public static func == (lhs: Result, rhs: Result) -> Bool {
            lhs.method == rhs.method && lhs.result == rhs.result && lhs.reason == rhs.reason
                && lhs.properties.map(\.0) == rhs.properties.map(\.0) && lhs.properties.map(\.1) == rhs.properties.map(\.1)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(method); hasher.combine(result); hasher.combine(reason)
            for (key, value) in properties { hasher.combine(key); hasher.combine(value) }
        }
    }

    /// The authserv-id naming this gateway (`AuthservID`).
    public var authservID: String
    public var results: [Result]

    public init(authservID: String, results: [Result]) {
        self.authservID = authservID
        self.results = results
    }

    /// The field value (without the `Authentication-Results:` name), folded
    /// one statement per line with a tab, as a milter adds it.
    public var fieldValue: String {
        guard !results.isEmpty else { return "\(authservID); none" }
        let statements = results.map { result -> String in
            var text = "\(result.method)=\(result.result)"
            if let reason = result.reason { text += " reason=\(Self.quotedIfNeeded(reason))" }
            for (key, value) in result.properties { text += " \(key)=\(Self.quotedIfNeeded(value))" }
            return text
        }
        return "\(authservID);\n\t" + statements.joined(separator: ";\n\t")
    }

    /// The authserv-id a field value claims, with comments and folding
    /// white space removed; `nil` when none can be read.
    public static func authservID(ofFieldValue value: String) -> String? {
        var text = ""
        var depth = 0
        var escaped = false
        for character in value {
            if escaped { escaped = false; if depth == 0 { text.append(character) }; continue }
            if character == "\\" { escaped = true; continue }
            if character == "(" { depth += 1; continue }
            if character == ")", depth > 0 { depth -= 1; continue }
            if depth == 0 { text.append(character) }
        }
        let beforeSemicolon = text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let id = beforeSemicolon.split(whereSeparator: \.isWhitespace).first
        guard let id, !id.isEmpty else { return nil }
        return String(id)
    }

    /// Whether a field value claims `authservID` (case-insensitive).
    public static func fieldValue(_ value: String, claims authservID: String) -> Bool {
        Self.authservID(ofFieldValue: value)?.lowercased() == authservID.lowercased()
    }

    private static func quotedIfNeeded(_ value: String) -> String {
        let special: Set<Character> = [" ", "\t", ";", "(", ")", "\"", "\\", "=", ","]
        guard value.contains(where: { special.contains($0) }) else { return value }
        return "\"" + value.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
