/// What became of one message, as the milter's metrics count it: the
/// direction, the decision and, for a failure, the check that failed. Read
/// from the decision the milter logs (`direction=… decision=… (why)`), so
/// the metrics and the log always agree. Every label comes from a fixed
/// set: a name that is not one of them counts as `other`, and no address
/// or domain ever becomes a label.
public struct MessageOutcome: Sendable, Hashable {
    public var direction: String
    public var decision: String
    /// The failed check (`none` for a message that did not fail).
    public var check: String

    public init(direction: String, decision: String, check: String = "none") {
        self.direction = direction
        self.decision = decision
        self.check = check
    }

    public static let directions: Set<String> = ["inbound", "outbound", "other"]
    /// The decisions the milter logs; the last four are failure actions.
    public static let decisions: Set<String> = [
        "sealed", "opened", "plaintext", "untouched", "split", "discard",
        "reject", "tempfail", "quarantine", "accept",
    ]
    /// Decisions that are failure actions (they carry a check).
    public static let failureDecisions: Set<String> = ["reject", "tempfail", "quarantine", "accept"]
    /// The longest check name taken from the log as it is.
    static let maxCheckLength = 48

    /// Checks named by their log text (first match wins).
    static let checkRules: [(text: String, check: String)] = [
        ("On-ForeignFrom", "foreign-from"),
        ("not sealed, From names", "spoofed-partner"),
        ("mixed sealed and plaintext", "mixed-recipients"),
        ("need Reinject", "no-reinject"),
        ("cannot tell the domain of recipient", "recipient-unreadable"),
        ("being re-injected by another", "split-in-progress"),
        ("re-injection of the sealed copy failed", "reinjection-failed"),
        ("removing the sealed recipients", "reinjection-failed"),
        ("cannot seal this message", "unsealable-original"),
        ("infected:", "infected"),
        ("scan failed", "scan-error"),
        ("FedMail: federation required", "no-token"),
        ("FedMail:", "no-token"),
    ]

    /// The outcome a decision log line states; nil when the line states none.
    public init?(logText text: String) {
        guard let direction = Self.value(of: "direction=", in: text),
              let decision = Self.value(of: "decision=", in: text) else { return nil }
        self.direction = Self.directions.contains(direction) ? direction : "other"
        self.decision = Self.decisions.contains(decision) ? decision : "other"
        guard Self.failureDecisions.contains(self.decision) else {
            check = "none"
            return
        }
        check = Self.check(in: text)
    }

    /// A failure of the milter itself (an error thrown while deciding).
    public static func internalError(direction: String?, action: String) -> MessageOutcome {
        MessageOutcome(direction: direction ?? "other", decision: decisions.contains(action) ? action : "other",
                       check: "internal-error")
    }

    /// The word after `key` (up to a space or parenthesis).
    static func value(of key: String, in text: String) -> String? {
        guard let range = firstRange(of: key, in: text[...]) else { return nil }
        let word = text[range.upperBound...].prefix { $0 != " " && $0 != "(" && $0 != ")" }
        return word.isEmpty ? nil : String(word)
    }

    /// The check of a failure line: the opening check leading a
    /// parenthesised reason (`(tag-mismatch: …)`), else a rule's name, else `other`.
    static func check(in text: String) -> String {
        var rest = text[...]
        while let open = firstRange(of: " (", in: rest) {
            let reason = rest[open.upperBound...]
            if let colon = reason.firstIndex(of: ":") {
                let name = reason[..<colon]
                if (1...maxCheckLength).contains(name.count), name.first?.isLowercase == true,
                   name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) {
                    return String(name)
                }
            }
            rest = reason
        }
        for rule in checkRules where firstRange(of: rule.text, in: text[...]) != nil { return rule.check }
        return "other"
    }

    /// Where `key` first occurs in `text`, compared byte for byte (UTF-8):
    /// the keys are ASCII, and this is read for every message (Foundation's
    /// `range(of:)` goes through CFString on Linux).
    static func firstRange(of key: String, in text: Substring) -> Range<String.Index>? {
        let bytes = text.utf8
        let needle = Array(key.utf8)
        guard let first = needle.first else { return nil }
        var from = bytes.startIndex
        while let start = bytes[from...].firstIndex(of: first) {
            if bytes[start...].starts(with: needle) {
                return start..<bytes.index(start, offsetBy: needle.count)
            }
            from = bytes.index(after: start)
        }
        return nil
    }
}
