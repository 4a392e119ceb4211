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

enum AddressScalar {
    static func isWSP(_ v: UInt32) -> Bool { v == 0x20 || v == 0x09 }

    /// Controls refused everywhere (CR, LF and HTAB are handled before this).
    static func isForbidden(_ v: UInt32) -> Bool {
        v < 0x20 || v == 0x7F || (v >= 0x80 && v <= 0x9F) || v == 0x2028 || v == 0x2029
    }

    static func isNonASCII(_ v: UInt32) -> Bool { v >= 0x80 && !isForbidden(v) }

    static func isAtext(_ v: UInt32) -> Bool {
        switch v {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        // ! # $ % & ' * + - / = ? ^ _ ` { | } ~
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2F, 0x3D, 0x3F, 0x5E, 0x5F, 0x60, 0x7B, 0x7C, 0x7D, 0x7E:
            return true
        default: return isNonASCII(v)
        }
    }

    /// What may follow a backslash in a quoted-pair: VCHAR, WSP, non-ASCII.
    static func isQuotable(_ v: UInt32) -> Bool { (v >= 0x21 && v <= 0x7E) || isWSP(v) || isNonASCII(v) }
    static func isQtext(_ v: UInt32) -> Bool { v == 0x21 || (v >= 0x23 && v <= 0x5B) || (v >= 0x5D && v <= 0x7E) || isNonASCII(v) }
    static func isCtext(_ v: UInt32) -> Bool { (v >= 0x21 && v <= 0x27) || (v >= 0x2A && v <= 0x5B) || (v >= 0x5D && v <= 0x7E) || isNonASCII(v) }
    static func isDtext(_ v: UInt32) -> Bool { (v >= 0x21 && v <= 0x5A) || (v >= 0x5E && v <= 0x7E) || isNonASCII(v) }

    static func hex(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    static func forbiddenMessage(_ v: UInt32) -> String {
        v == 0 ? "NUL character" : "control character \(hex(v))"
    }
}

// MARK: - Lexer

struct AddressToken {
    enum Kind: Equatable { case atom, quotedString, domainLiteral, special }
    var kind: Kind
    /// Atom text, quoted-string content (unescaped, unfolded), domain-literal
    /// "[...]", or the special character.
    var text: String
    var special: Unicode.Scalar
    var offset: Int
    /// White space or a comment comes right before this token.
    var spaceBefore: Bool
}

/// Splits a field value into atoms, quoted strings, domain literals and
/// specials, dropping white space and comments. One pass, no recursion.
struct AddressLexer {
    let s: [Unicode.Scalar]
    var i = 0

    init(_ scalars: [Unicode.Scalar]) { s = scalars }

    func error(_ message: String, _ offset: Int) -> AddressParseError {
        AddressParseError(message: message, offset: offset)
    }

    mutating func tokenize() throws(AddressParseError) -> [AddressToken] {
        var tokens: [AddressToken] = []
        var space = false
        while i < s.count {
            let start = i
            let v = s[i].value
            switch v {
            case 0x20, 0x09:
                space = true
                i += 1
                continue
            case 0x0D, 0x0A:
                try lineBreak()
                space = true
                continue
            case 0x28: // (
                try skipComment()
                space = true
                continue
            case 0x29: throw error("unbalanced ')'", i)
            case 0x5D: throw error("unbalanced ']'", i)
            case 0x5C: throw error(i + 1 == s.count ? "trailing backslash" : "backslash outside a quoted string or comment", i)
            case 0x22: // "
                let text = try quotedString()
                tokens.append(AddressToken(kind: .quotedString, text: text, special: "\0", offset: start, spaceBefore: space))
            case 0x5B: // [
                let text = try domainLiteral()
                tokens.append(AddressToken(kind: .domainLiteral, text: text, special: "\0", offset: start, spaceBefore: space))
            case 0x3C, 0x3E, 0x3A, 0x3B, 0x40, 0x2C, 0x2E: // < > : ; @ , .
                i += 1
                tokens.append(AddressToken(kind: .special, text: String(s[start]), special: s[start], offset: start, spaceBefore: space))
            default:
                guard AddressScalar.isAtext(v) else { throw error(AddressScalar.forbiddenMessage(v), i) }
                while i < s.count && AddressScalar.isAtext(s[i].value) { i += 1 }
                var text = ""
                text.unicodeScalars.append(contentsOf: s[start..<i])
                tokens.append(AddressToken(kind: .atom, text: text, special: "\0", offset: start, spaceBefore: space))
            }
            space = false
        }
        return tokens
    }

    /// At CR or LF: consumes CRLF or LF, which must be followed by WSP
    /// (folding); the WSP itself is left for the caller.
    mutating func lineBreak() throws(AddressParseError) {
        if s[i] == "\r" {
            guard i + 1 < s.count, s[i + 1] == "\n" else { throw error("bare CR", i) }
            i += 1
        }
        guard i + 1 < s.count, AddressScalar.isWSP(s[i + 1].value) else {
            throw error("line break not followed by white space", i)
        }
        i += 1
    }

    /// At a backslash: the quoted scalar.
    mutating func quotedPair() throws(AddressParseError) -> Unicode.Scalar {
        guard i + 1 < s.count else { throw error("trailing backslash", i) }
        let quoted = s[i + 1]
        guard AddressScalar.isQuotable(quoted.value) else {
            throw error("invalid quoted-pair (\(AddressScalar.forbiddenMessage(quoted.value)))", i + 1)
        }
        i += 2
        return quoted
    }

    mutating func skipComment() throws(AddressParseError) {
        let start = i
        var depth = 1
        i += 1
        while true {
            guard i < s.count else { throw error("unterminated comment", start) }
            let v = s[i].value
            switch v {
            case 0x28:
                depth += 1
                if depth > AddressListParser.maxCommentDepth {
                    throw error("comments nested more than \(AddressListParser.maxCommentDepth) deep", i)
                }
                i += 1
            case 0x29:
                depth -= 1
                i += 1
                if depth == 0 { return }
            case 0x5C: _ = try quotedPair()
            case 0x0D, 0x0A: try lineBreak()
            case 0x20, 0x09: i += 1
            default:
                guard AddressScalar.isCtext(v) else { throw error(AddressScalar.forbiddenMessage(v), i) }
                i += 1
            }
        }
    }

    /// The content of a quoted string: quoted-pairs resolved, folding CRLFs removed.
    mutating func quotedString() throws(AddressParseError) -> String {
        let start = i
        var text = ""
        i += 1
        while true {
            guard i < s.count else { throw error("unterminated quoted string", start) }
            let v = s[i].value
            switch v {
            case 0x22:
                i += 1
                return text
            case 0x5C: text.unicodeScalars.append(try quotedPair())
            case 0x0D, 0x0A: try lineBreak()
            case 0x20, 0x09:
                text.unicodeScalars.append(s[i])
                i += 1
            default:
                guard AddressScalar.isQtext(v) else { throw error(AddressScalar.forbiddenMessage(v), i) }
                text.unicodeScalars.append(s[i])
                i += 1
            }
        }
    }

    /// "[...]" with white space removed and obs quoted-pairs resolved.
    mutating func domainLiteral() throws(AddressParseError) -> String {
        let start = i
        var text = "["
        i += 1
        while true {
            guard i < s.count else { throw error("unterminated domain literal", start) }
            let v = s[i].value
            switch v {
            case 0x5D:
                i += 1
                text.unicodeScalars.append("]")
                return text
            case 0x5B: throw error("'[' inside a domain literal", i)
            case 0x5C:
                let quoted = try quotedPair()
                guard !AddressScalar.isWSP(quoted.value) else { throw error("quoted white space in a domain literal", i - 1) }
                text.unicodeScalars.append(quoted)
            case 0x0D, 0x0A: try lineBreak()
            case 0x20, 0x09: i += 1
            default:
                guard AddressScalar.isDtext(v) else { throw error(AddressScalar.forbiddenMessage(v), i) }
                text.unicodeScalars.append(s[i])
                i += 1
            }
        }
    }
}

// MARK: - Parser

/// Recursive descent over the tokens; the only nesting is a group's
/// mailbox list, so the depth is constant.
struct AddressParser {
    enum Context { case topLevel, inGroup, single }

    let t: [AddressToken]
    let end: Int
    let maxMailboxes: Int
    var p = 0
    var mailboxes: [MailboxAddress] = []

    init(tokens: [AddressToken], end: Int, maxMailboxes: Int) {
        self.t = tokens
        self.end = end
        self.maxMailboxes = maxMailboxes
    }

    func isSpecial(_ c: Unicode.Scalar) -> Bool {
        p < t.count && t[p].kind == .special && t[p].special == c
    }

    func isWordOrDot(_ k: Int) -> Bool {
        t[k].kind == .atom || t[k].kind == .quotedString || (t[k].kind == .special && t[k].special == ".")
    }

    var offset: Int { p < t.count ? t[p].offset : end }

    func error(_ message: String) -> AddressParseError {
        AddressParseError(message: message, offset: offset)
    }

    func found() -> String {
        guard p < t.count else { return "end of value" }
        switch t[p].kind {
        case .atom: return "a word"
        case .quotedString: return "a quoted string"
        case .domainLiteral: return "a domain literal"
        case .special: return "'\(t[p].text)'"
        }
    }

    func unexpected(_ expected: String) -> AddressParseError {
        error("expected \(expected) but found \(found())")
    }

    // address-list / obs-addr-list
    mutating func parseAddressList() throws(AddressParseError) {
        while true {
            while isSpecial(",") { p += 1 }
            if p == t.count { break }
            try parseAddress(.topLevel)
            if p == t.count { break }
            guard isSpecial(",") else { throw unexpected("',' between addresses") }
        }
        if mailboxes.isEmpty { throw AddressParseError(message: "no mailbox", offset: end) }
    }

    mutating func parseSingleMailbox() throws(AddressParseError) -> MailboxAddress {
        guard !t.isEmpty else { throw AddressParseError(message: "no mailbox", offset: end) }
        try parseAddress(.single)
        guard p == t.count else { throw unexpected("end of value after the mailbox") }
        return mailboxes[0]
    }

    /// mailbox / group, starting at p.
    mutating func parseAddress(_ context: Context) throws(AddressParseError) {
        let start = p
        while p < t.count && isWordOrDot(p) { p += 1 }
        let words = start..<p
        if isSpecial("<") {
            var displayName: String?
            if !words.isEmpty { displayName = try phrase(words) }
            p += 1
            let (local, domain) = try angleAddrBody()
            try append(MailboxAddress(localPart: local, domain: domain, displayName: displayName))
        } else if isSpecial("@") {
            let local = try localPart(words)
            p += 1
            let domain = try parseDomain()
            try append(MailboxAddress(localPart: local, domain: domain, displayName: nil))
        } else if isSpecial(":") {
            switch context {
            case .inGroup: throw error("group inside a group")
            case .single: throw error("group where a single mailbox is expected")
            case .topLevel: break
            }
            guard !words.isEmpty else { throw error("group without a name") }
            _ = try phrase(words)
            p += 1
            try parseGroupList()
        } else if words.isEmpty {
            if isSpecial(">") { throw error("'>' without '<'") }
            if isSpecial(";") { throw error("';' outside a group") }
            throw unexpected("a mailbox")
        } else {
            throw error("no addr-spec (a display name needs an <angle-addr>)")
        }
    }

    /// After "name:": [mailbox-list / obs-group-list] ";".
    mutating func parseGroupList() throws(AddressParseError) {
        while true {
            while isSpecial(",") { p += 1 }
            if isSpecial(";") {
                p += 1
                return
            }
            if p == t.count { throw error("unterminated group (no ';')") }
            try parseAddress(.inGroup)
            guard isSpecial(",") || isSpecial(";") else {
                throw p == t.count ? error("unterminated group (no ';')") : unexpected("',' or ';' in a group")
            }
        }
    }

    /// After "<": [obs-route] addr-spec ">".
    mutating func angleAddrBody() throws(AddressParseError) -> (String, String) {
        if isSpecial(",") || isSpecial("@") {
            // obs-domain-list = *(CFWS / ",") "@" domain *("," [CFWS] ["@" domain])
            while isSpecial(",") { p += 1 }
            guard isSpecial("@") else { throw unexpected("'@' in a route") }
            p += 1
            _ = try parseDomain()
            while isSpecial(",") {
                p += 1
                if isSpecial("@") {
                    p += 1
                    _ = try parseDomain()
                }
            }
            guard isSpecial(":") else { throw unexpected("':' after a route") }
            p += 1
        }
        let start = p
        while p < t.count && isWordOrDot(p) { p += 1 }
        guard isSpecial("@") else {
            if start == p && isSpecial(">") { throw error("empty angle-addr") }
            if p == t.count { throw error("unterminated '<' (no '>')") }
            throw unexpected("'@'")
        }
        let local = try localPart(start..<p)
        p += 1
        let domain = try parseDomain()
        guard isSpecial(">") else {
            throw p == t.count ? error("unterminated '<' (no '>')") : unexpected("'>'")
        }
        p += 1
        return (local, domain)
    }

    /// display-name: phrase / obs-phrase (word *(word / "."))
    func phrase(_ range: Range<Int>) throws(AddressParseError) -> String {
        guard t[range.lowerBound].kind != .special else {
            throw AddressParseError(message: "display name starts with '.'", offset: t[range.lowerBound].offset)
        }
        var text = ""
        for k in range {
            if k != range.lowerBound && t[k].spaceBefore { text.unicodeScalars.append(" ") }
            text += t[k].text
        }
        return text
    }

    /// local-part: dot-atom / quoted-string / obs-local-part (word *("." word))
    func localPart(_ range: Range<Int>) throws(AddressParseError) -> String {
        guard !range.isEmpty else { throw error("empty local part") }
        var text = ""
        for k in range {
            let token = t[k]
            let wantWord = (k - range.lowerBound) % 2 == 0
            if wantWord {
                guard token.kind != .special else {
                    throw AddressParseError(message: "empty word in local part", offset: token.offset)
                }
                if token.kind == .atom { try checkAddressAtom(token, in: "local part") }
                text += token.text
            } else {
                guard token.kind == .special else {
                    throw AddressParseError(
                        message: "words before '@' not separated by '.' (a display name needs an <angle-addr>)",
                        offset: token.offset)
                }
                text.unicodeScalars.append(".")
            }
        }
        if range.count % 2 == 0 {
            throw AddressParseError(message: "local part ends with '.'", offset: t[range.upperBound - 1].offset)
        }
        return text
    }

    /// domain: dot-atom / domain-literal / obs-domain (atom *("." atom)),
    /// one trailing dot tolerated. Lower-cased.
    mutating func parseDomain() throws(AddressParseError) -> String {
        guard p < t.count else { throw error("missing domain") }
        if t[p].kind == .domainLiteral {
            try checkVisible(t[p], in: "domain")
            p += 1
            return t[p - 1].text.lowercased()
        }
        var text = ""
        while true {
            guard p < t.count, t[p].kind == .atom else {
                throw text.isEmpty ? unexpected("a domain") : error("empty label in domain")
            }
            try checkAddressAtom(t[p], in: "domain")
            text += t[p].text
            p += 1
            guard isSpecial(".") else { break }
            p += 1
            if p < t.count && t[p].kind == .atom {
                text.unicodeScalars.append(".")
                continue
            }
            // A trailing dot, if the domain ends here.
            if p == t.count || isSpecial(",") || isSpecial(">") || isSpecial(";") || isSpecial(":") { break }
            throw error("empty label in domain")
        }
        return text.lowercased()
    }

    /// An atom of a local part or domain: no encoded word (some readers
    /// decode them even there), nothing invisible.
    func checkAddressAtom(_ token: AddressToken, in part: String) throws(AddressParseError) {
        if token.text.hasPrefix("=?") {
            throw AddressParseError(message: "encoded word in \(part)", offset: token.offset)
        }
        try checkVisible(token, in: part)
    }

    /// No non-ASCII white space (which some readers drop from a domain) or
    /// default-ignorable (invisible) scalar in an atom or domain literal.
    func checkVisible(_ token: AddressToken, in part: String) throws(AddressParseError) {
        var offset = token.offset
        for scalar in token.text.unicodeScalars {
            if scalar.value >= 0x80 && (scalar.properties.isWhitespace || scalar.properties.isDefaultIgnorableCodePoint) {
                // An atom is a verbatim slice of the value; a literal's text is not.
                throw AddressParseError(
                    message: "invisible or white space character \(AddressScalar.hex(scalar.value)) in \(part)",
                    offset: token.kind == .atom ? offset : token.offset)
            }
            offset += 1
        }
    }

    mutating func append(_ mailbox: MailboxAddress) throws(AddressParseError) {
        guard mailboxes.count < maxMailboxes else {
            throw AddressParseError(message: "more than \(maxMailboxes) mailboxes", offset: offset)
        }
        mailboxes.append(mailbox)
    }
}

// MARK: - Envelope paths

/// RFC 5321 Path / Reverse-path with RFC 6531 UTF-8, no white space.
struct EnvelopePathScanner {
    let s: [Unicode.Scalar]
    var i = 0
    var end: Int

    init(_ scalars: [Unicode.Scalar]) {
        s = scalars
        end = scalars.count
    }

    func error(_ message: String, _ offset: Int) -> AddressParseError {
        AddressParseError(message: message, offset: offset)
    }

    func describe(_ k: Int) -> String {
        k < end ? "'\(String(s[k]))'" : "end of path"
    }

    mutating func parse() throws(AddressParseError) -> MailboxAddress? {
        if s.isEmpty { return nil }
        if s[0] == "<" {
            guard s.count >= 2, s[s.count - 1] == ">" else { throw error("unterminated '<' (no '>')", s.count) }
            i = 1
            end = s.count - 1
            if i == end { return nil }
        }
        if s[i] == "@" {
            // A-d-l = At-domain *( "," At-domain ) ":"
            while true {
                guard i < end, s[i] == "@" else { throw error("expected '@' in a route but found \(describe(i))", i) }
                i += 1
                _ = try domain(allowTrailingDot: false)
                if i < end && s[i] == "," {
                    i += 1
                    continue
                }
                guard i < end, s[i] == ":" else { throw error("expected ':' after a route but found \(describe(i))", i) }
                i += 1
                break
            }
        }
        let local = try localPart()
        guard i < end, s[i] == "@" else { throw error("expected '@' but found \(describe(i))", i) }
        i += 1
        let domain = try domain(allowTrailingDot: true)
        guard i == end else { throw error("unexpected \(describe(i)) after the domain", i) }
        return MailboxAddress(localPart: local, domain: domain, displayName: nil)
    }

    mutating func localPart() throws(AddressParseError) -> String {
        var text = ""
        guard i < end else { throw error("empty local part", i) }
        if s[i] == "\"" {
            let start = i
            i += 1
            while true {
                guard i < end else { throw error("unterminated quoted string", start) }
                let v = s[i].value
                if v == 0x22 {
                    i += 1
                    break
                }
                if v == 0x5C {
                    guard i + 1 < end else { throw error("trailing backslash", i) }
                    let q = s[i + 1].value
                    guard (q >= 0x20 && q <= 0x7E) || AddressScalar.isNonASCII(q) else {
                        throw error("invalid quoted-pair", i + 1)
                    }
                    text.unicodeScalars.append(s[i + 1])
                    i += 2
                    continue
                }
                guard v == 0x20 || AddressScalar.isQtext(v) else {
                    throw error(AddressScalar.forbiddenMessage(v), i)
                }
                text.unicodeScalars.append(s[i])
                i += 1
            }
            return text
        }
        // Dot-string = Atom *("." Atom)
        while true {
            let start = i
            while i < end && AddressScalar.isAtext(s[i].value) { i += 1 }
            guard i > start else { throw error("empty atom in local part", i) }
            text.unicodeScalars.append(contentsOf: s[start..<i])
            guard i < end, s[i] == "." else { return text }
            text.unicodeScalars.append(".")
            i += 1
        }
    }

    static func isLabelScalar(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        switch v {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D: return true
        default:
            return AddressScalar.isNonASCII(v) && !scalar.properties.isWhitespace
                && !scalar.properties.isDefaultIgnorableCodePoint
        }
    }

    mutating func domain(allowTrailingDot: Bool) throws(AddressParseError) -> String {
        var text = ""
        guard i < end else { throw error("missing domain", i) }
        if s[i] == "[" {
            let start = i
            i += 1
            text = "["
            while true {
                guard i < end else { throw error("unterminated address literal", start) }
                let v = s[i].value
                if v == 0x5D {
                    i += 1
                    break
                }
                guard v < 0x80 && AddressScalar.isDtext(v) else { throw error("invalid character in address literal", i) }
                text.unicodeScalars.append(s[i])
                i += 1
            }
            guard text.unicodeScalars.count > 1 else { throw error("empty address literal", start) }
            text.unicodeScalars.append("]")
            return text.lowercased()
        }
        while true {
            let start = i
            while i < end && Self.isLabelScalar(s[i]) { i += 1 }
            guard i > start else {
                throw error(text.isEmpty ? "expected a domain but found \(describe(i))" : "empty label in domain", i)
            }
            guard s[start] != "-", s[i - 1] != "-" else { throw error("domain label starts or ends with '-'", start) }
            text.unicodeScalars.append(contentsOf: s[start..<i])
            guard i < end, s[i] == "." else { break }
            i += 1
            if allowTrailingDot && i == end { break }
            text.unicodeScalars.append(".")
        }
        return text.lowercased()
    }
}

// MARK: - Domain candidates

struct CandidateCollector {
    let limit: Int
    var items: [String] = []
    var seen: Set<String> = []

    init(limit: Int) { self.limit = limit }

    var isFull: Bool { items.count >= limit }

    mutating func insert(_ candidate: String) {
        guard !isFull, !candidate.isEmpty, seen.insert(candidate).inserted else { return }
        items.append(candidate)
    }
}

enum CandidateScanner {
    enum Class { case domain, ignorable, at, other }

    /// Fullwidth forms as ASCII, ideographic full stops as ".".
    static func normalize(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        let v = scalar.value
        if v >= 0xFF01 && v <= 0xFF5E, let ascii = Unicode.Scalar(v - 0xFEE0) { return ascii }
        switch v {
        case 0x3002, 0xFF61, 0xFE52: return "."
        case 0xFE6B: return "@"
        default: return scalar
        }
    }

    static func classify(_ scalar: Unicode.Scalar) -> Class {
        let v = scalar.value
        switch v {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E: return .domain
        case 0x40: return .at
        case 0..<0x80: return .other
        default:
            let properties = scalar.properties
            if properties.isDefaultIgnorableCodePoint { return .ignorable }
            if properties.isAlphabetic || properties.numericType == .decimal { return .domain }
            switch properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark: return .domain
            default: return .other
            }
        }
    }

    static func scan(_ text: [Unicode.Scalar], into collector: inout CandidateCollector) {
        var withIgnorables = ""
        var withoutIgnorables = ""
        var lastWasDot = false
        var runAfterAt = false
        var pendingAt = false
        var inRun = false

        func flush() {
            if inRun {
                for run in [withIgnorables, withoutIgnorables] {
                    var scalars = run.unicodeScalars[...]
                    while scalars.first == "." { scalars = scalars.dropFirst() }
                    while scalars.last == "." { scalars = scalars.dropLast() }
                    guard !scalars.isEmpty, runAfterAt || scalars.contains(".") else { continue }
                    var candidate = ""
                    candidate.unicodeScalars.append(contentsOf: scalars)
                    collector.insert(candidate.lowercased())
                }
            }
            withIgnorables = ""
            withoutIgnorables = ""
            inRun = false
            lastWasDot = false
            runAfterAt = false
        }

        for raw in text {
            if collector.isFull { return }
            let scalar = normalize(raw)
            switch classify(scalar) {
            case .domain:
                if scalar == "." && lastWasDot {
                    flush() // ".." ends a run
                    pendingAt = false
                    continue
                }
                if !inRun {
                    inRun = true
                    runAfterAt = pendingAt
                    pendingAt = false
                }
                withIgnorables.unicodeScalars.append(scalar)
                withoutIgnorables.unicodeScalars.append(scalar)
                lastWasDot = scalar == "."
            case .ignorable:
                if inRun { withIgnorables.unicodeScalars.append(scalar) }
            case .at:
                flush()
                pendingAt = true
            case .other:
                flush()
                pendingAt = false
            }
        }
        flush()
    }
}

/// RFC 2047 encoded words decoded in place, for ``AddressListParser/domainCandidates(inFieldValue:maxCandidates:)``.
enum EncodedWordDecoder {
    /// `text` with every encoded word decoded, or nil when it has none.
    static func decodeAll(_ text: [Unicode.Scalar]) -> [Unicode.Scalar]? {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        var found = false
        var afterWord: Int? // out index just after the last encoded word, while only white space followed
        var i = 0
        while i < text.count {
            if text[i] == "=", i + 1 < text.count, text[i + 1] == "?", let (decoded, next) = decodeWord(text, at: i) {
                if let cut = afterWord { out.removeSubrange(cut...) }
                out.append(contentsOf: decoded)
                afterWord = out.count
                found = true
                i = next
                continue
            }
            let v = text[i].value
            if !(AddressScalar.isWSP(v) || v == 0x0D || v == 0x0A) { afterWord = nil }
            out.append(text[i])
            i += 1
        }
        return found ? out : nil
    }

    /// =?charset?encoding?text?= at `start`: the decoded scalars and the index after it.
    static func decodeWord(_ s: [Unicode.Scalar], at start: Int) -> ([Unicode.Scalar], Int)? {
        func isToken(_ v: UInt32) -> Bool { v > 0x20 && v < 0x7F && v != 0x3F } // printable ASCII but "?"
        var j = start + 2
        while j < s.count && isToken(s[j].value) { j += 1 }
        guard j > start + 2, j < s.count, s[j] == "?" else { return nil }
        var charset = ""
        charset.unicodeScalars.append(contentsOf: s[(start + 2)..<j])
        j += 1
        guard j + 1 < s.count, s[j + 1] == "?" else { return nil }
        let encoding = s[j]
        guard encoding == "q" || encoding == "Q" || encoding == "b" || encoding == "B" else { return nil }
        j += 2
        let textStart = j
        while j < s.count && isToken(s[j].value) { j += 1 }
        guard j + 1 < s.count, s[j] == "?", s[j + 1] == "=" else { return nil }
        let encoded = s[textStart..<j]
        let bytes = (encoding == "q" || encoding == "Q") ? decodeQ(encoded) : decodeB(encoded)
        if let star = charset.firstIndex(of: "*") { charset = String(charset[..<star]) }
        let scalars: [Unicode.Scalar]
        let name = charset.lowercased()
        switch name {
        case "utf-8", "utf8":
            scalars = Array(String(decoding: bytes, as: UTF8.self).unicodeScalars)
        case "utf-7", "utf7", "unicode-1-1-utf-7":
            scalars = decodeUTF7(bytes)
        default:
            if name.hasPrefix("utf-16") || name.hasPrefix("utf16") || name.hasPrefix("ucs-2") || name.hasPrefix("unicode") {
                // Both byte orders (a BOM or the name may lie): what any reader may show.
                scalars = decodeUTF16(bytes, bigEndian: true) + [" "] + decodeUTF16(bytes, bigEndian: false)
            } else if name.hasPrefix("utf-32") || name.hasPrefix("utf32") || name.hasPrefix("ucs-4") {
                scalars = decodeUTF32(bytes, bigEndian: true) + [" "] + decodeUTF32(bytes, bigEndian: false)
            } else {
                // ASCII-compatible charsets (ISO-8859-*, Windows-125x, Shift_JIS,
                // EUC, ISO-2022 in ASCII mode): domain text is ASCII in all of them.
                scalars = bytes.map { Unicode.Scalar($0) }
            }
        }
        return (scalars, j + 2)
    }

    static func decodeUTF16(_ bytes: [UInt8], bigEndian: Bool) -> [Unicode.Scalar] {
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var k = 0
        while k + 1 < bytes.count {
            let unit = bigEndian ? UInt16(bytes[k]) << 8 | UInt16(bytes[k + 1]) : UInt16(bytes[k + 1]) << 8 | UInt16(bytes[k])
            if !(k == 0 && (unit == 0xFEFF || unit == 0xFFFE)) { units.append(unit) }
            k += 2
        }
        return Array(String(decoding: units, as: UTF16.self).unicodeScalars)
    }

    static func decodeUTF32(_ bytes: [UInt8], bigEndian: Bool) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        var k = 0
        while k + 3 < bytes.count {
            let b = bytes[k..<(k + 4)].map(UInt32.init)
            let value = bigEndian ? b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3] : b[3] << 24 | b[2] << 16 | b[1] << 8 | b[0]
            if let scalar = Unicode.Scalar(value), value != 0xFEFF { out.append(scalar) }
            k += 4
        }
        return out
    }

    /// RFC 2152: ASCII, with "+<modified base64 of UTF-16BE>[-]" runs ("+-" is "+").
    static func decodeUTF7(_ bytes: [UInt8]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        var k = 0
        func sextet(_ b: UInt8) -> UInt32? {
            switch b {
            case 0x41...0x5A: return UInt32(b - 0x41)
            case 0x61...0x7A: return UInt32(b - 0x61 + 26)
            case 0x30...0x39: return UInt32(b - 0x30 + 52)
            case 0x2B: return 62
            case 0x2F: return 63
            default: return nil
            }
        }
        while k < bytes.count {
            let b = bytes[k]
            guard b == 0x2B else { out.append(Unicode.Scalar(b)); k += 1; continue }
            k += 1
            if k < bytes.count, bytes[k] == 0x2D { out.append("+"); k += 1; continue }
            var buffer: UInt32 = 0
            var bits = 0
            var units: [UInt16] = []
            while k < bytes.count, let value = sextet(bytes[k]) {
                buffer = (buffer << 6 | value) & 0xFFFFFF
                bits += 6
                if bits >= 16 {
                    bits -= 16
                    units.append(UInt16(truncatingIfNeeded: buffer >> UInt32(bits)))
                }
                k += 1
            }
            out += String(decoding: units, as: UTF16.self).unicodeScalars
            if k < bytes.count, bytes[k] == 0x2D { k += 1 }
        }
        return out
    }

    static func hexValue(_ scalar: Unicode.Scalar) -> UInt8? {
        switch scalar.value {
        case 0x30...0x39: return UInt8(scalar.value - 0x30)
        case 0x41...0x46: return UInt8(scalar.value - 0x41 + 10)
        case 0x61...0x66: return UInt8(scalar.value - 0x61 + 10)
        default: return nil
        }
    }

    static func decodeQ(_ text: ArraySlice<Unicode.Scalar>) -> [UInt8] {
        var bytes: [UInt8] = []
        var k = text.startIndex
        while k < text.endIndex {
            let scalar = text[k]
            if scalar == "_" {
                bytes.append(0x20)
            } else if scalar == "=", k + 2 < text.endIndex, let high = hexValue(text[k + 1]), let low = hexValue(text[k + 2]) {
                bytes.append(high << 4 | low)
                k += 3
                continue
            } else {
                bytes.append(UInt8(truncatingIfNeeded: scalar.value))
            }
            k += 1
        }
        return bytes
    }

    static func decodeB(_ text: ArraySlice<Unicode.Scalar>) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for scalar in text {
            let v = scalar.value
            let sextet: UInt32
            switch v {
            case 0x41...0x5A: sextet = v - 0x41
            case 0x61...0x7A: sextet = v - 0x61 + 26
            case 0x30...0x39: sextet = v - 0x30 + 52
            case 0x2B: sextet = 62
            case 0x2F: sextet = 63
            default: continue
            }
            buffer = (buffer << 6 | sextet) & 0xFFFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return bytes
    }
}
