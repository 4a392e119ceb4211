/// A strict RFC 5322 (§3.4, with the §4.4 obsolete forms and RFC 6532 UTF-8)
/// parser for address header fields: which mailboxes, and so which domains,
/// a `From`/`Sender` field claims.
///
/// It fails closed: a value that does not parse completely is an error,
/// never a best guess. Comments are dropped everywhere and never contribute
/// to a local part or domain; quoted strings in display names never become
/// addresses.
///
/// Limits, all checked so that work stays linear in the input:
/// - a value longer than ``maxValueUTF8Bytes`` (64 KiB, counted in UTF-8
///   bytes) is refused before anything else is done;
/// - comments nest at most 50 deep;
/// - at most `maxMailboxes` mailboxes.
///
/// Stricter than RFC 5322 on purpose (all fail closed):
/// - control characters other than HTAB in FWS are refused everywhere,
///   including obs-text controls, C1 controls (U+0080–U+009F) and
///   U+2028/U+2029;
/// - CR must be followed by LF, and a line break by SP or HTAB, even at the
///   very end of the value (pass the value without its final CRLF);
/// - in a domain (domain-literal included) and in the unquoted atoms of a
///   local part: non-ASCII white space and default-ignorable (invisible)
///   scalars are refused, and so is an atom starting with `=?` (an encoded
///   word, which some readers decode even there);
/// - quoted-pairs may only quote VCHAR, WSP or non-ASCII.
///
/// Lenient where harmless: one trailing dot in a domain (`a@b.example.`) is
/// accepted and removed.
public enum AddressListParser {
    public static let defaultMaxMailboxes = 100
    /// Longest value accepted by every function here, in UTF-8 bytes.
    public static let maxValueUTF8Bytes = 65_536
    /// Deepest comment nesting accepted.
    static let maxCommentDepth = 50

    /// Every mailbox of an address-list (RFC 5322 §3.4), in order, groups
    /// flattened: group syntax `name: a@b, c@d;` (RFC 6854 allows it in
    /// From); the obsolete forms a real MTA passes on (obs-local-part,
    /// obs-domain, obs-angle-addr route `<@r1,@r2:a@b>`, obs-phrase with
    /// ".", empty list elements `a@b,,c@d`, CFWS between dot-atom parts);
    /// nested comments and quoted strings with quoted-pairs; folding (CRLF
    /// or LF followed by WSP); UTF-8 (RFC 6532: non-ASCII scalars count as
    /// atext/qtext/ctext/dtext).
    ///
    /// Throws when the value does not parse completely, when it has no
    /// mailbox at all ("no mailbox"), or when it has more than
    /// `maxMailboxes` mailboxes ("more than N mailboxes").
    public static func mailboxes(inAddressList value: String, maxMailboxes: Int = defaultMaxMailboxes) throws(AddressParseError) -> [MailboxAddress] {
        try checkLength(value)
        let scalars = Array(value.unicodeScalars)
        var lexer = AddressLexer(scalars)
        let tokens = try lexer.tokenize()
        var parser = AddressParser(tokens: tokens, end: scalars.count, maxMailboxes: maxMailboxes)
        try parser.parseAddressList()
        return parser.mailboxes
    }

    /// A single mailbox (the Sender field): no group, no list.
    public static func mailbox(_ value: String) throws(AddressParseError) -> MailboxAddress {
        try checkLength(value)
        let scalars = Array(value.unicodeScalars)
        var lexer = AddressLexer(scalars)
        let tokens = try lexer.tokenize()
        var parser = AddressParser(tokens: tokens, end: scalars.count, maxMailboxes: 1)
        return try parser.parseSingleMailbox()
    }

    /// An SMTP envelope path as a milter sees it: `<a@b>` or `a@b` (with or
    /// without angle brackets, an obs route `<@x:a@b>` allowed, quoted
    /// local parts allowed); `<>` or "" (the null sender) give nil. Throws
    /// on anything else.
    ///
    /// RFC 5321 §4.1.2 syntax with RFC 6531 UTF-8: no white space or
    /// comments; the local part is a Dot-string or a Quoted-string; the
    /// domain is letter/digit/hyphen labels (non-ASCII allowed, no leading
    /// or trailing hyphen, one trailing dot tolerated and removed) or an
    /// address literal `[...]`.
    public static func envelopePath(_ value: String) throws(AddressParseError) -> MailboxAddress? {
        try checkLength(value)
        let scalars = Array(value.unicodeScalars)
        var scanner = EnvelopePathScanner(scalars)
        return try scanner.parse()
    }

    /// Conservative: every substring of the WHOLE field value (display
    /// names, quoted strings, comments, encoded words included) that looks
    /// like a domain: maximal runs of [A-Za-z0-9-.] and non-ASCII letters
    /// containing at least one dot, plus the text after every "@" —
    /// lower-cased, trailing dots removed, de-duplicated, bounded (at most
    /// `maxCandidates`, at most 64 KiB of input scanned). Quoted-pairs are
    /// decoded first (so `\@\a\.\e\x` yields "a.ex"), so a spoof check
    /// based on this can't be dodged with backslashes. For the
    /// anti-spoofing "require partner" check, where being over-inclusive
    /// is safe.
    ///
    /// In detail, the result (in order of discovery) is:
    /// 1. the domains ``mailboxes(inAddressList:maxMailboxes:)`` finds when the
    ///    value parses (so obs-domains such as `b . example` are included);
    /// 2. runs in the first 64 KiB (UTF-8) of the value after removing every
    ///    backslash that starts a quoted-pair, then in that text as it is
    ///    (`evil.example\x` yields `evil.examplex` and `evil.example`).
    ///    Run characters are ASCII
    ///    letters, digits, `-`, `.`, and non-ASCII letters, marks and decimal
    ///    digits; fullwidth forms (U+FF01–U+FF5E) count as their ASCII
    ///    counterparts and U+3002, U+FF61, U+FE52 as `.`, U+FE6B as `@`.
    ///    Default-ignorable (invisible) scalars don't break a run; the run
    ///    is reported both with and without them. `..` ends a run. Leading
    ///    and trailing dots are removed; a run qualifies if it then
    ///    contains a dot or directly follows an `@`;
    /// 3. the same runs in the text with every RFC 2047 encoded word
    ///    decoded in place (white space between adjacent encoded words
    ///    removed; UTF-8 charsets decoded as UTF-8, any other as Latin-1).
    ///
    /// Not handled: homographs (Cyrillic "а" for Latin "a") and other
    /// compatibility mappings beyond the fullwidth block.
    public static func domainCandidates(inFieldValue value: String, maxCandidates: Int = 1000) -> [String] {
        guard maxCandidates > 0 else { return [] }
        var collector = CandidateCollector(limit: maxCandidates)
        if let boxes = try? mailboxes(inAddressList: value, maxMailboxes: Int.max) {
            for box in boxes where !box.domain.hasPrefix("[") {
                collector.insert(box.domain)
            }
        }
        if collector.isFull { return collector.items }

        // At most 64 KiB scanned: with quoted-pairs decoded, and as is.
        var raw: [Unicode.Scalar] = []
        var text: [Unicode.Scalar] = []
        var bytes = 0
        var escaped = false
        for scalar in value.unicodeScalars {
            bytes += UTF8.width(scalar)
            if bytes > maxValueUTF8Bytes { break }
            raw.append(scalar)
            if !escaped && scalar == "\\" {
                escaped = true
                continue
            }
            escaped = false
            text.append(scalar)
        }
        CandidateScanner.scan(text, into: &collector)
        if text.count != raw.count { CandidateScanner.scan(raw, into: &collector) }
        if !collector.isFull, let decoded = EncodedWordDecoder.decodeAll(text) {
            CandidateScanner.scan(decoded, into: &collector)
        }
        return collector.items
    }

    static func checkLength(_ value: String) throws(AddressParseError) {
        if value.utf8.count > maxValueUTF8Bytes {
            throw AddressParseError(message: "value longer than \(maxValueUTF8Bytes) bytes", offset: 0)
        }
    }
}

// MARK: - Character classes
