/// The `Authentication-Results` header field (RFC 8601) that the opening
/// milter adds, and the recognition of fields that claim our authserv-id
/// (which must be removed: only we may speak under our name).
public struct AuthenticationResults: Sendable, Hashable {
    /// One `method=result` statement with its properties.
    public struct Result: Sendable, Hashable {
        public var method: String
        public var result: String
        public var reason: String?
        /// A comment after the result (`fedmail=fail (token-validity)`).
        public var comment: String?
        /// Properties such as `header.from=example.org`, in order.
        public var properties: [(String, String)]

        public init(method: String, result: String, comment: String? = nil, reason: String? = nil,
                    properties: [(String, String)] = []) {
            self.method = method
            self.result = result
            self.comment = comment
            self.reason = reason
            self.properties = properties
        }

        public static func == (lhs: Result, rhs: Result) -> Bool {
            lhs.method == rhs.method && lhs.result == rhs.result && lhs.reason == rhs.reason && lhs.comment == rhs.comment
                && lhs.properties.map(\.0) == rhs.properties.map(\.0) && lhs.properties.map(\.1) == rhs.properties.map(\.1)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(method); hasher.combine(result); hasher.combine(reason); hasher.combine(comment)
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
            if let comment = result.comment { text += " (\(Self.commentText(comment)))" }
            if let reason = result.reason { text += " reason=\(Self.quotedIfNeeded(reason))" }
            for (key, value) in result.properties { text += " \(key)=\(Self.quotedIfNeeded(value))" }
            return text
        }
        return "\(authservID);\n\t" + statements.joined(separator: ";\n\t")
    }

    /// The field value on one line (`id; method=result prop=value ...`),
    /// for a single statement that fits in an SMTP line.
    public var singleLineFieldValue: String {
        fieldValue.replacingAll("\n", with: "").replacingAll("\t", with: " ")
    }

    /// The authserv-id a field value claims (RFC 8601 `authserv-id`, a
    /// token or a quoted-string, after optional CFWS), unescaped; `nil` when
    /// the value does not start with one. White space is any Unicode white
    /// space (U+00A0, U+3000...): readers trim those too. Invisible
    /// characters (U+200B, U+FEFF, a soft hyphen...) and bytes that are not
    /// UTF-8 (U+FFFD here; in Latin-1 0xA0 is a space and 0xAD invisible)
    /// are skipped wherever they are: a reader does not see them, so
    /// `mx.b<U+200B>.test` is `mx.b.test` to it and to us.
    public static func authservID(ofFieldValue value: String) -> String? {
        // The whole value (linear; the MTA bounds a field's size): an id
        // read up to a cut would be a shortened id, and not ours.
        let scalars = Array(value.unicodeScalars)
        var index = 0
        // CFWS: white space and (nested) comments with quoted-pairs.
        var depth = 0
        while index < scalars.count {
            let c = scalars[index]
            if depth > 0 {
                if c == "\\" { index += 2; continue }
                if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
                index += 1
                continue
            }
            if c == "(" { depth = 1; index += 1; continue }
            if isBlank(c) || isInvisible(c) { index += 1; continue }
            break
        }
        guard depth == 0, index < scalars.count else { return nil }
        var id = String.UnicodeScalarView()
        if scalars[index] == "\"" {
            index += 1
            while index < scalars.count, scalars[index] != "\"" {
                if scalars[index] == "\\" {
                    index += 1
                    guard index < scalars.count else { return nil }
                }
                if !isInvisible(scalars[index]) { id.append(scalars[index]) }
                index += 1
            }
            guard index < scalars.count else { return nil }  // unterminated
        } else {
            while index < scalars.count {
                let c = scalars[index]
                if isBlank(c) || c == ";" || c == "(" || c == "\"" { break }
                if !isInvisible(c) { id.append(c) }
                index += 1
            }
        }
        let text = String(id)
        return text.isEmpty ? nil : text
    }

    /// White space a reader would trim or break a token at.
    static func isBlank(_ c: Unicode.Scalar) -> Bool {
        c.properties.isWhitespace
    }

    /// A character a reader does not show: default-ignorable and format
    /// characters, and U+FFFD, which stands here for a byte that is not
    /// UTF-8 (and may be an invisible or a space in the reader's charset).
    static func isInvisible(_ c: Unicode.Scalar) -> Bool {
        c == "\u{FFFD}" || c.properties.isDefaultIgnorableCodePoint || c.properties.generalCategory == .format
    }

    /// Text as compared: white space and invisible characters dropped,
    /// lower-cased.
    static func visible(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for c in text.unicodeScalars where !isBlank(c) && !isInvisible(c) { scalars.append(c) }
        return String(scalars).lowercased()
    }

    /// An authserv-id as compared: white space and invisible characters
    /// dropped, lower-cased, the full stops IDNA maps to `.` (U+3002,
    /// U+FF0E, U+FF61) made `.`, without the trailing dot of a fully
    /// qualified name.
    static func comparable(_ id: String) -> String {
        var text = String(String.UnicodeScalarView(visible(id).unicodeScalars.map(Self.fullStop)))
        while text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// `.` for the full stops IDNA reads as one, else `c`.
    static func fullStop(_ c: Unicode.Scalar) -> Unicode.Scalar {
        c == "\u{3002}" || c == "\u{FF0E}" || c == "\u{FF61}" ? "." : c
    }

    /// The ways a reader may read a field value, each of which is checked:
    /// as written; with each byte that is not UTF-8 (U+FFFD here) read as a
    /// space rather than as nothing (Latin-1's 0xA0); with RFC 2047 encoded
    /// words decoded (mail libraries decode them in any field); and each of
    /// those in `textForms`' normalized spelling too (NFKC from the
    /// milter: fullwidth letters, `ſ`), as IDNA reads a host name.
    static func readings(of value: String, textForms: TextForms) -> [String] {
        var readings = [value]
        if value.unicodeScalars.contains("\u{FFFD}") {
            readings.append(String(String.UnicodeScalarView(value.unicodeScalars.map { $0 == "\u{FFFD}" ? " " : $0 })))
        }
        for reading in readings where reading.contains("=?") {
            if let decoded = EncodedWordDecoder.decodeAll(Array(reading.unicodeScalars)) {
                readings.append(String(String.UnicodeScalarView(decoded)))
            }
        }
        return readings.flatMap { textForms.forms(of: $0) }
    }

    /// Whether a field value speaks for one of `authservIDs` (ours and the
    /// `TrustedAuthservIDs`) in any of the ways a reader may read it
    /// (``readings(of:textForms:)``): its authserv-id is one of them,
    /// compared case-insensitively, with or without a trailing dot, whether
    /// written as a token or a quoted-string. A value whose authserv-id
    /// cannot be read (an unterminated quote or comment) counts as claiming
    /// one when it mentions one anywhere, white space and invisible
    /// characters left out: only we may speak under our name, so doubt
    /// removes the field.
    public static func fieldValue(_ value: String, claimsAnyOf authservIDs: [String],
                                  textForms: TextForms = .asWritten) -> Bool {
        let ids = Set(authservIDs.flatMap { textForms.forms(of: $0) }.map(comparable).filter { !$0.isEmpty })
        guard !ids.isEmpty else { return false }
        return readings(of: value, textForms: textForms).contains { reading in
            if let id = authservID(ofFieldValue: reading) { return ids.contains(comparable(id)) }
            let text = String(String.UnicodeScalarView(visible(reading).unicodeScalars.map(Self.fullStop)))
            return ids.contains { text.contains($0) }
        }
    }

    /// Whether a field value outside a seal may speak for one of
    /// `authservIDs` (ours and the `TrustedAuthservIDs`) to some reader, so
    /// that only we may deliver it: true unless the value starts with a
    /// plain authserv-id (``plainAuthservID(ofFieldValue:arc:)``) that is
    /// none of them. Readers take any other spelling apart in their own
    /// ways — the parser OpenDMARC, OpenDKIM and OpenARC share makes `.` a
    /// token, drops quote marks and backslashes, skips comments and joins
    /// labels across white space, so `mx . b . example`, `"mx.b".example`
    /// and `mx\.b.example` are `mx.b.example` to it — and no reading of
    /// ours can list them all. A plain id followed by a version is also
    /// compared with the digits joined to it (`mx.b.example 2` may read as
    /// `mx.b.example2`). `arc`: an `ARC-Authentication-Results` value
    /// (`i=N;` first).
    public static func fieldValue(_ value: String, mayClaimAnyOf authservIDs: [String], arc: Bool = false,
                                  textForms: TextForms = .asWritten) -> Bool {
        guard let plain = plainAuthservIDReading(ofFieldValue: value, arc: arc) else { return true }
        let ids = Set(authservIDs.flatMap { textForms.forms(of: $0) }.map(comparable).filter { !$0.isEmpty })
        if ids.contains(comparable(plain.id)) { return true }
        if let version = plain.version, ids.contains(comparable(plain.id + version)) { return true }
        return false
    }

    /// Whether a field value speaks only for `domains` (the sending
    /// organization's, from its certificate): it starts with a plain
    /// authserv-id (``plainAuthservID(ofFieldValue:arc:)``) that is one of
    /// them or a name under one (`mx.a.example` for `a.example`). Results
    /// an organization wrote about its own hops are the only ones inside a
    /// seal a receiver may pass on: any other id may be one of the
    /// receiver's own verifiers, which never saw the original. Strict on
    /// purpose: readers take an id apart in different ways (OpenDMARC's
    /// drops quotes and skips a token that starts with `(`, so `"(x.a.example"
    /// auth.b.example` is auth.b.example to it), so anything but a plain
    /// name is not passed on. `arc`: an `ARC-Authentication-Results` value
    /// (`i=N;` first).
    public static func fieldValue(_ value: String, isWithin domains: [String], arc: Bool = false) -> Bool {
        guard let id = plainAuthservID(ofFieldValue: value, arc: arc).flatMap({ DomainName($0) }) else { return false }
        return domains.compactMap { DomainName($0) }.contains { id.isSubdomain(of: $0) }
    }

    /// The authserv-id of a value written the plain way every reader
    /// agrees on: optional spaces or tabs, a host name (ASCII letters,
    /// digits, hyphens and dots: a ``DomainName``, a trailing dot allowed),
    /// an optional version number after white space, optional white space,
    /// then `;` — with `arc`, after `i=<digits>;` and white space. Nil for
    /// anything else: a comment, a quoted string, an escape, a non-ASCII
    /// character, another special.
    public static func plainAuthservID(ofFieldValue value: String, arc: Bool = false) -> String? {
        plainAuthservIDReading(ofFieldValue: value, arc: arc)?.id
    }

    /// ``plainAuthservID(ofFieldValue:arc:)`` and the digits of the
    /// version after it, if any.
    static func plainAuthservIDReading(ofFieldValue value: String, arc: Bool) -> (id: String, version: String?)? {
        let bytes = Array(value.utf8)
        var index = 0
        func skipBlanks() { while index < bytes.count, bytes[index] == 32 || bytes[index] == 9 { index += 1 } }
        func isDigit(_ b: UInt8) -> Bool { (48...57).contains(b) }
        skipBlanks()
        if arc {
            guard index + 1 < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "i"), bytes[index + 1] == UInt8(ascii: "=") else { return nil }
            index += 2
            let digits = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            guard index > digits else { return nil }
            skipBlanks()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ";") else { return nil }
            index += 1
            skipBlanks()
        }
        let start = index
        while index < bytes.count {
            let b = bytes[index]
            let isLetterOrDigit = (65...90).contains(b) || (97...122).contains(b) || isDigit(b)
            guard isLetterOrDigit || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") else { break }
            index += 1
        }
        let name = String(decoding: bytes[start..<index], as: UTF8.self)
        guard DomainName(name) != nil else { return nil }
        let afterName = index
        skipBlanks()
        var version: String?
        if index > afterName, index < bytes.count, isDigit(bytes[index]) {
            let digits = index
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            version = String(decoding: bytes[digits..<index], as: UTF8.self)
            skipBlanks()
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: ";") else { return nil }
        return (name, version)
    }

    /// Whether a field value claims `authservID` (case-insensitive).
    public static func fieldValue(_ value: String, claims authservID: String, textForms: TextForms = .asWritten) -> Bool {
        fieldValue(value, claimsAnyOf: [authservID], textForms: textForms)
    }

    /// Comment text with the characters that would end or nest it escaped.
    private static func commentText(_ text: String) -> String {
        var result = ""
        for character in text {
            if character == "(" || character == ")" || character == "\\" { result.append("\\") }
            if character == "\r" || character == "\n" { result.append(" "); continue }
            result.append(character)
        }
        return result
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
