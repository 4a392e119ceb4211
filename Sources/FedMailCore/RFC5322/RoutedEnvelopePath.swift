extension AddressListParser {
    /// The mailbox an MTA routes an SMTP path argument to.
    ///
    /// MTAs hand a milter the RCPT TO / MAIL FROM argument as the client
    /// wrote it, but route the address their own parser takes out of it:
    /// Postfix (`extract_addr`, tok822) and Sendmail (`prescan`) drop white
    /// space and comments outside quoted strings, so `<bob@b.example >`,
    /// `<bob @ b.example>` and `<bob@b.example(x)>` are all delivered to
    /// bob@b.example. This parses the path strictly (``envelopePath(_:)``)
    /// and, when that fails, again with that white space and those comments
    /// removed, so FedMail sees the domain the mail is really routed to.
    ///
    /// - Returns: the mailbox; nil for the null path `<>`.
    /// - Throws: when the path does not parse either way.
    public static func routedEnvelopePath(_ value: String) throws(AddressParseError) -> MailboxAddress? {
        do {
            return try envelopePath(value)
        } catch {
            let routed = try withoutCommentsAndWhiteSpace(value)
            guard routed != value else { throw error }
            return try envelopePath(routed)
        }
    }

    /// `value` without white space (SP, HTAB, CR, LF) and comments outside
    /// quoted strings; quoted strings and quoted-pairs are kept as they are.
    /// Throws on an unterminated comment or quoted string.
    static func withoutCommentsAndWhiteSpace(_ value: String) throws(AddressParseError) -> String {
        try checkLength(value)
        var out = String.UnicodeScalarView()
        var inQuote = false
        var commentDepth = 0
        var escaped = false
        for (offset, scalar) in value.unicodeScalars.enumerated() {
            if escaped {
                escaped = false
                if commentDepth == 0 { out.append(scalar) }
                continue
            }
            switch scalar {
            case "\\" where inQuote || commentDepth > 0:
                escaped = true
                if commentDepth == 0 { out.append(scalar) }
            case "\"" where commentDepth == 0:
                inQuote.toggle()
                out.append(scalar)
            case "(" where !inQuote:
                commentDepth += 1
            case ")" where !inQuote:
                guard commentDepth > 0 else { throw AddressParseError(message: "unbalanced ')'", offset: offset) }
                commentDepth -= 1
            case _ where !inQuote && Self.isFoldingWhiteSpace(scalar):
                continue
            default:
                if commentDepth == 0 { out.append(scalar) }
            }
        }
        guard !inQuote else { throw AddressParseError(message: "unterminated quoted string", offset: value.unicodeScalars.count) }
        guard commentDepth == 0 else { throw AddressParseError(message: "unterminated comment", offset: value.unicodeScalars.count) }
        return String(out)
    }

    private static func isFoldingWhiteSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\n"
    }
}

extension AddressListParser {
    /// The mailbox an SMTP path argument is delivered to, as one comparable
    /// text: ``routedEnvelopePath(_:)`` (quoted local part unquoted, source
    /// route dropped), the address extension from the first `delimiters`
    /// character on dropped (`bob+news@` is bob's mailbox; none when
    /// empty), `@`, the domain in its canonical form (``DomainName``: ASCII,
    /// no trailing dot), all lower-cased. Nil when the path does not parse
    /// or is the null path. The one rule the replay cache, the split ledger
    /// and the recipient binding compare recipients by.
    public static func deliveredMailbox(_ path: String, cuttingExtensionAt delimiters: String = "") -> String? {
        guard let mailbox = try? routedEnvelopePath(path) else { return nil }
        let domain = DomainName(mailbox.domain)?.value ?? mailbox.domain.lowercased()
        var local = Substring(mailbox.localPart)
        if let cut = local.firstIndex(where: { delimiters.contains($0) }) { local = local[..<cut] }
        return (local + "@" + domain).lowercased()
    }
}
