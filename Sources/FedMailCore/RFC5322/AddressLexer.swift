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
