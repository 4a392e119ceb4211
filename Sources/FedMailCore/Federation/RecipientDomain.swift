/// What an envelope address says about where the mail goes: the one place
/// that reads a recipient's domain, for direction, federation lookups,
/// the replay cache and the early accept alike.
public enum RecipientDomain: Sendable, Hashable {
    /// The domain the MTA routes the address to.
    case domain(DomainName)
    /// No domain at all (`<postmaster>`, `<bob>`): the MTA qualifies such a
    /// recipient with its own domain and delivers it locally, so it is ours.
    case unqualified
    /// An address whose domain cannot be read. The MTA may still route it
    /// somewhere, so nothing may be concluded from it: fail closed.
    case unreadable

    /// Reads `address` (an SMTP path, angle brackets optional) the way the
    /// MTA does (``AddressListParser/routedEnvelopePath(_:)``); when even
    /// that fails, a path with no `@` outside quoted strings is
    /// ``unqualified``, and one whose text after its last `@` (white space
    /// and comments removed) is a domain name is that domain, as MTAs route
    /// `user@host@domain` to the last domain. A local part with `%` or `!`
    /// is ``unreadable`` (``mayBeRerouted(localPart:)``).
    public init(address: some StringProtocol) {
        let text = String(address)
        if let mailbox = try? AddressListParser.routedEnvelopePath(text) {
            if !Self.mayBeRerouted(localPart: mailbox.localPart[...]), let domain = DomainName(mailbox.domain) {
                self = .domain(domain)
            } else {
                self = .unreadable
            }
            return
        }
        guard let cleaned = try? AddressListParser.withoutCommentsAndWhiteSpace(text) else {
            self = .unreadable
            return
        }
        var stripped = Substring(cleaned)
        if stripped.hasPrefix("<") && stripped.hasSuffix(">") && stripped.count >= 2 { stripped = stripped.dropFirst().dropLast() }
        guard let at = Self.lastUnquotedAt(in: stripped) else {
            self = stripped.isEmpty || Self.mayBeRerouted(localPart: stripped) ? .unreadable : .unqualified
            return
        }
        if !Self.mayBeRerouted(localPart: stripped[..<at]), let domain = DomainName(stripped[stripped.index(after: at)...]) {
            self = .domain(domain)
        } else {
            self = .unreadable
        }
    }

    /// A local part the MTA may turn into another domain: `%` (the "percent
    /// hack", Postfix's `allow_percent_hack`, on by default:
    /// `bob%b.example@a.example` goes to bob@b.example) or `!` (a UUCP bang
    /// path, `swap_bangpath`: `b.example!bob` is bob@b.example), quoted or
    /// not. Such a recipient's real domain cannot be told from the path.
    static func mayBeRerouted(localPart: Substring) -> Bool {
        localPart.contains("%") || localPart.contains("!")
    }

    /// The last `@` outside quoted strings.
    private static func lastUnquotedAt(in text: Substring) -> Substring.Index? {
        var inQuote = false
        var escaped = false
        var last: Substring.Index?
        for index in text.indices {
            let character = text[index]
            if escaped { escaped = false; continue }
            if character == "\\" && inQuote { escaped = true; continue }
            if character == "\"" { inQuote.toggle(); continue }
            if character == "@" && !inQuote { last = index }
        }
        return last
    }
}
