/// Federation as anti-spoofing (DESIGN.md "Allowlist"): inbound plaintext
/// mail whose From domain is a `require` partner cannot be genuine, since
/// that partner only ever sends sealed mail to us.
public enum SpoofedPartnerCheck {
    /// The first From domain of `fromDomains` that the allowlist lists as
    /// `require`, or `nil` when none is.
    public static func requiredPartner(fromDomains: [String], allowlist: FederationAllowlist) -> DomainName? {
        for text in fromDomains {
            guard let domain = DomainName(text), let entry = allowlist.entry(for: domain) else { continue }
            if entry.policy == .require { return domain }
        }
        return nil
    }
}
