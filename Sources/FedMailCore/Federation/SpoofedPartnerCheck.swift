/// Federation as anti-spoofing (DESIGN.md "Allowlist"): mail that was not
/// opened, whose From names a `require` partner, cannot be genuine, since
/// that partner only ever sends sealed mail to us.
public enum SpoofedPartnerCheck {
    /// The first `require` partner named anywhere in the author fields'
    /// values (`From`, `Sender`): in an address, a display name, a quoted
    /// string or a comment, quoted-pairs decoded — a reader may take any of
    /// them for the author, so being over-inclusive is the safe side.
    /// `nil` when none is.
    public static func requiredPartner(inFieldValues values: [String], allowlist: FederationAllowlist,
                                       textForms: TextForms = .asWritten) -> DomainName? {
        requiredPartners(inFieldValues: values, allowlist: allowlist, textForms: textForms).first
    }

    /// Every `require` partner named in the values (each once, in order),
    /// in any of the spellings of `textForms`.
    public static func requiredPartners(inFieldValues values: [String], allowlist: FederationAllowlist,
                                        textForms: TextForms = .asWritten) -> [DomainName] {
        namedDomains(inFieldValues: values, textForms: textForms).filter { allowlist.entry(for: $0)?.policy == .require }
    }

    /// Every domain named anywhere in the values (addresses, display
    /// names, quoted strings, comments, encoded words), in any spelling of
    /// `textForms`, each once, in order.
    public static func namedDomains(inFieldValues values: [String], textForms: TextForms = .asWritten) -> [DomainName] {
        var found: [DomainName] = []
        var seen = Set<DomainName>()
        for value in values {
            for form in textForms.forms(of: value) {
                for text in AddressListParser.domainCandidates(inFieldValue: form) {
                    guard let domain = DomainName(text), seen.insert(domain).inserted else { continue }
                    found.append(domain)
                }
            }
        }
        return found
    }
}
