/// A spam verdict an earlier filter in the chain wrote into a header.
///
/// Understood forms (field names case-insensitive):
/// - SpamAssassin `X-Spam-Status: Yes, score=7.2 required=5.0 tests=…`
///   (`hits=` in old versions) and `X-Spam-Flag: YES`;
/// - rspamd `X-Spamd-Result: default: False [1.20 / 15.00]; SYMBOL(…)…`
///   and `X-Spam: Yes`;
/// - any other configured field whose value starts with `yes` or `no`
///   (optionally followed by `, score=N`).
public struct UpstreamSpamVerdict: Sendable, Hashable {
    /// Whether the filter judged the message spam.
    public var isSpam: Bool
    /// The filter's score, when the header gives one.
    public var score: Double?

    public init(isSpam: Bool, score: Double? = nil) {
        self.isSpam = isSpam
        self.score = score
    }

    /// Reads the verdict from one header field.
    /// - Returns: `nil` when the value is not in a form this understands.
    public init?(fieldName: String, value: String) {
        let text = value.trimmingASCIIWhitespace()
        if fieldName.lowercased() == "x-spamd-result" {
            guard let parsed = Self.rspamdResult(text) else { return nil }
            self = parsed
            return
        }
        // "Yes, score=7.2 required=5.0 ..." / "NO" / "No, hits=1.0 ..."
        let head = text.prefix { $0 != "," && $0 != " " && $0 != "\t" && $0 != ";" }.lowercased()
        switch head {
        case "yes", "true": isSpam = true
        case "no", "false": isSpam = false
        default: return nil
        }
        score = Self.number(after: "score=", in: text) ?? Self.number(after: "hits=", in: text)
    }

    /// `default: False [1.20 / 15.00]; ...`
    private static func rspamdResult(_ text: String) -> UpstreamSpamVerdict? {
        let firstPart = text.prefix { $0 != ";" }
        guard let colon = firstPart.firstIndex(of: ":") else { return nil }
        let afterColon = firstPart[firstPart.index(after: colon)...].trimmingPrefixSpaces()
        let flag = afterColon.prefix { $0 != " " && $0 != "[" }.lowercased()
        let isSpam: Bool
        switch flag {
        case "true", "yes": isSpam = true
        case "false", "no": isSpam = false
        default: return nil
        }
        var score: Double?
        if let open = afterColon.firstIndex(of: "[") {
            let inside = afterColon[afterColon.index(after: open)...].prefix { $0 != "/" && $0 != "]" }
            score = Double(String(inside).trimmingASCIIWhitespace())
        }
        return UpstreamSpamVerdict(isSpam: isSpam, score: score)
    }

    /// The number right after `key` (as SpamAssassin writes it, lower case) in `text`, if any.
    private static func number(after key: String, in text: String) -> Double? {
        guard let range = text.firstRange(of: key) else { return nil }
        let rest = text[range.upperBound...]
        let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == "." || $0 == "-" || $0 == "+") }
        return Double(digits)
    }
}
