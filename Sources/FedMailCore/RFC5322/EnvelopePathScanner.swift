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
