/// Outbound, before sealing (DESIGN.md "Opening verifies": the receiver
/// holds every author against the signer's domains): are the authors of
/// this message ours to sign for? Every From and Sender mailbox must be in
/// one of our certificate's domains, exactly, as the receiver will check;
/// the envelope sender may also be a subdomain (bounces, VERP). Parsed
/// strictly: what does not parse is not ours.
public enum ForeignAuthorCheck {
    public enum Result: Sendable, Hashable {
        case ours
        /// Why not, for the reply and the log.
        case foreign(String)
    }

    public static func check(fromFields: [String], senderFields: [String], envelopeSender: String?,
                             ourDomains: [DomainName]) -> Result {
        guard !fromFields.isEmpty else { return .foreign("the message has no From field") }
        var authors: [MailboxAddress] = []
        do {
            for value in fromFields { authors += try AddressListParser.mailboxes(inAddressList: value) }
            for value in senderFields { authors.append(try AddressListParser.mailbox(value)) }
        } catch {
            return .foreign("the From or Sender field does not parse (\(error.message))")
        }
        for author in authors {
            guard let domain = DomainName(author.domain), ourDomains.contains(domain) else {
                return .foreign("author domain \(author.domain) is not one of our certificate's domains")
            }
        }
        if let envelopeSender {
            let parsed: MailboxAddress?
            do { parsed = try AddressListParser.envelopePath(envelopeSender) } catch {
                return .foreign("the envelope sender does not parse (\(error.message))")
            }
            if let parsed {
                guard let domain = DomainName(parsed.domain), ourDomains.contains(where: { domain.isSubdomain(of: $0) }) else {
                    return .foreign("envelope sender domain \(parsed.domain) is not one of our domains")
                }
            }
        }
        return .ours
    }
}
