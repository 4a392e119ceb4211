/// Rules for the names the broker accepts from clients and operators.
public enum Names {
    /// Organization names: 1–64 of letters, digits, `.`, `_`, `-`, starting with a letter or digit.
    public static func isValidOrganization(_ name: String) -> Bool {
        guard (1...64).contains(name.count), let first = name.first, first.isASCII, first.isLetter || first.isNumber else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
    }

    /// Mail domains: a host name with at least two labels, returned in lower case; nil when invalid.
    public static func normalizedDomain(_ text: String) -> String? {
        let domain = text.lowercased()
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, domain.count <= 253 else { return nil }
        for label in labels {
            guard (1...63).contains(label.count), label.first != "-", label.last != "-",
                  label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else { return nil }
        }
        return domain
    }

    /// A mail address `local@domain`: returns the lower-cased domain, or nil when malformed.
    public static func domain(ofAddress address: String) -> String? {
        guard let at = address.lastIndex(of: "@"), at != address.startIndex, address.count <= 254 else { return nil }
        let local = address[..<at]
        guard local.count <= 64, local.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "@" && $0 != "\"" && $0 != "\\" && $0 != "<" && $0 != ">" }) else {
            return nil
        }
        return normalizedDomain(String(address[address.index(after: at)...]))
    }
}
