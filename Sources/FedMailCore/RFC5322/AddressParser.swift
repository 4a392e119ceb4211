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
