/// Folds a long header field value so that no line exceeds SMTP's limits
/// (RFC 5322 §2.1.1: 78 recommended, 998 at most). Used for `FedMail-Token`,
/// whose JWS has no white space of its own: it is broken at fixed widths
/// with folding white space, which readers of the field remove
/// (``FedMailTokenHeader/parse(value:)`` drops all white space in `t=`).
public enum HeaderFolding {
    /// `value` split into pieces of at most `width` characters joined by
    /// `lineEnding` plus a tab. The first line also carries the field name,
    /// so it is `firstLineWidth` wide.
    public static func fold(_ value: String, width: Int = 76, firstLineWidth: Int = 60, lineEnding: String = "\r\n") -> String {
        let characters = Array(value)
        guard characters.count > firstLineWidth else { return value }
        var pieces: [String] = []
        var start = 0
        var limit = max(1, firstLineWidth)
        while start < characters.count {
            let end = min(characters.count, start + limit)
            pieces.append(String(characters[start..<end]))
            start = end
            limit = max(1, width)
        }
        return pieces.joined(separator: lineEnding + "\t")
    }
}
