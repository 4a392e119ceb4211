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
        // Compared by scalars: String's == already treats canonically
        // equivalent spellings as equal, and those are the ones to add.
        let normalized = normalize(value)
        return normalized.unicodeScalars.elementsEqual(value.unicodeScalars) ? [value] : [value, normalized]
    }
}
