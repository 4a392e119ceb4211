/// Extracts the domains of the addresses in an address-list header value
/// (`From`, `Sender`, `To`…), as RFC 5322 writes them.
///
/// Display names, quoted strings, comments and group syntax are skipped;
/// domains are lower-cased without a trailing dot. Encoded words in display
/// names need no decoding since only the addr-spec is looked at.
public enum MailAddressDomains {
    /// The domains of every address in `value`, in order, without duplicates.
    public static func domains(inAddressList value: String) -> [String] {
        var result: [String] = []
        for address in addresses(inAddressList: value) {
            guard let at = address.lastIndex(of: "@") else { continue }
            var domain = String(address[address.index(after: at)...]).lowercased()
            if domain.hasPrefix("[") { /* address literal */ } else {
                while domain.hasSuffix(".") { domain.removeLast() }
            }
            if !domain.isEmpty && !result.contains(domain) { result.append(domain) }
        }
        return result
    }

    /// The addr-specs in `value` (`local@domain`), comments and display names removed.
    public static func addresses(inAddressList value: String) -> [String] {
        // Tokenize, dropping comments and keeping quoted strings opaque.
        var mailboxes: [String] = []
        var current = ""
        var angle: String?
        var inAngle = false
        var depth = 0
        var inQuote = false
        var escaped = false
        func finish() {
            let spec = (angle ?? current).filter { $0 != " " && $0 != "\t" }
            if !spec.isEmpty { mailboxes.append(spec) }
            current = ""
            angle = nil
        }
        for ch in value {
            if escaped { escaped = false; if inAngle { angle?.append(ch) } else { current.append(ch) }; continue }
            if inQuote {
                if ch == "\\" { escaped = true } else if ch == "\"" { inQuote = false }
                if inAngle { angle?.append(ch) } else { current.append(ch) }
                continue
            }
            if depth > 0 {
                if ch == "\\" { escaped = true } else if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
                continue
            }
            switch ch {
            case "(": depth = 1
            case "\"":
                inQuote = true
                if inAngle { angle?.append(ch) } else { current.append(ch) }
            case "<": inAngle = true; angle = ""
            case ">": inAngle = false
            case ",", ";": finish()
            case ":" where !inAngle:
                current = "" // group name: "undisclosed:"
            default:
                if inAngle { angle?.append(ch) } else { current.append(ch) }
            }
        }
        finish()
        // A display name without angle brackets cannot be an address.
        return mailboxes.filter { $0.contains("@") }
    }
}
