import FedMailCore

/// Rules for the names the broker accepts from clients and operators.
/// Domains follow the one domain rule of the core (``DomainName/init(mailDomain:)``).
public enum Names {
    /// Organization names: 1–64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit.
    public static func isValidOrganization(_ name: String) -> Bool {
        guard (1...64).contains(name.count), let first = name.first, first.isASCII, first.isLetter || first.isNumber else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
    }

    /// A mail address `local@domain`: returns its domain in canonical form, or nil when malformed.
    public static func domain(ofAddress address: String) -> DomainName? {
        guard let at = address.lastIndex(of: "@"), at != address.startIndex, address.count <= 254 else { return nil }
        let local = address[..<at]
        guard local.count <= 64, local.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "@" && $0 != "\"" && $0 != "\\" && $0 != "<" && $0 != ">" }) else {
            return nil
        }
        return DomainName(mailDomain: address[address.index(after: at)...])
    }
}
