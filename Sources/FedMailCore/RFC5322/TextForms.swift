/// The spellings of a header value a reader may see: as written, and
/// Unicode-normalized (NFKC: "bu\u{308}cher" is "bücher", the ligature "ﬁ" is
/// "fi"), so a domain written in an equivalent form is recognized. The
/// normalization comes from the caller (this module imports nothing; the
/// milter passes Foundation's NFKC).
public struct TextForms: Sendable {
    /// NFKC (or another compatibility normalization); identity when none.
    public var normalize: @Sendable (String) -> String

    public init(normalize: @escaping @Sendable (String) -> String) {
        self.normalize = normalize
    }

    /// Only the text as written.
    public static let asWritten = TextForms { $0 }

    /// `value` as written, and normalized when that differs.
    public func forms(of value: String) -> [String] {
        let normalized = normalize(value)
        return normalized == value && Array(normalized.unicodeScalars) == Array(value.unicodeScalars) ? [value] : [value, normalized]
    }
}
