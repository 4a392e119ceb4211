/// Which way a message travels relative to this gateway, decided as
/// OpenDKIM decides sign-or-verify.
public enum MailDirection: Sendable, Hashable {
    /// Leaving the organization: candidates for sealing.
    case outbound
    /// Arriving from outside for one of our domains: candidates for opening.
    case inbound
    /// Neither (e.g. relayed through, or outbound to our own domains).
    case other
}

/// What the milter knows about a connection and message that decides its direction.
public struct DirectionFacts: Sendable, Hashable {
    /// The `{auth_type}` macro: set when the client authenticated with SMTP AUTH.
    public var authType: String?
    /// The client's IP address (`{client_addr}`), if any.
    public var clientAddress: String?
    /// The `{daemon_name}` macro: which MTA listener accepted the connection.
    public var daemonName: String?
    /// The envelope recipients' domains.
    public var recipientDomains: [DomainName]
    /// Recipients without a domain (`<postmaster>`): the MTA delivers them
    /// locally, so they count as ours.
    public var unqualifiedRecipients: Int
    /// Recipients whose domain cannot be told (``RecipientDomain/unreadable``):
    /// the message is refused rather than guessed about.
    public var unreadableRecipients: [String]

    public init(authType: String? = nil, clientAddress: String? = nil, daemonName: String? = nil,
                recipientDomains: [DomainName], unqualifiedRecipients: Int = 0, unreadableRecipients: [String] = []) {
        self.authType = authType
        self.clientAddress = clientAddress
        self.daemonName = daemonName
        self.recipientDomains = recipientDomains
        self.unqualifiedRecipients = unqualifiedRecipients
        self.unreadableRecipients = unreadableRecipients
    }

    /// The facts of a message to `recipients` (SMTP paths as the MTA gave them).
    public init(authType: String?, clientAddress: String?, daemonName: String?, recipients: [String]) {
        var domains: [DomainName] = []
        var unqualified = 0
        var unreadable: [String] = []
        for recipient in recipients {
            switch RecipientDomain(address: recipient) {
            case .domain(let domain): domains.append(domain)
            case .unqualified: unqualified += 1
            case .unreadable: unreadable.append(recipient)
            }
        }
        self.init(authType: authType, clientAddress: clientAddress, daemonName: daemonName, recipientDomains: domains,
                  unqualifiedRecipients: unqualified, unreadableRecipients: unreadable)
    }
}

/// The settings that decide direction (`InternalHosts`, `MTA`, `Domains`).
public struct DirectionPolicy: Sendable, Hashable {
    /// Clients whose mail is ours to seal. OpenDKIM's default is the loopback address.
    public var internalHosts: [IPNetwork]
    /// `{daemon_name}` values whose mail is outbound (e.g. the submission service).
    public var mtaNames: Set<String>
    /// The domains this gateway receives mail for.
    public var localDomains: Set<DomainName>

    public init(internalHosts: [IPNetwork], mtaNames: Set<String>, localDomains: Set<DomainName>) {
        self.internalHosts = internalHosts
        self.mtaNames = mtaNames
        self.localDomains = localDomains
    }

    /// Whether `domain` is one of ours (or a subdomain is not: listed domains only).
    public func isLocal(_ domain: DomainName) -> Bool { localDomains.contains(domain) }

    /// Decides the direction.
    ///
    /// Outbound when the client authenticated, is an internal host, or came in
    /// through a listed MTA daemon — and at least one recipient is not ours.
    /// Outbound mail addressed only to our own domains is left alone.
    /// Inbound when the client is none of those and a recipient is ours.
    public func direction(of facts: DirectionFacts) -> MailDirection {
        if isTrustedClient(facts) {
            return facts.recipientDomains.contains(where: { !isLocal($0) }) ? .outbound : .other
        }
        return isForUs(facts) ? .inbound : .other
    }

    /// Whether the message reaches one of our recipients: a recipient in
    /// one of our domains, or one without a domain (the MTA qualifies it
    /// with its own).
    public func isForUs(_ facts: DirectionFacts) -> Bool {
        facts.unqualifiedRecipients > 0 || facts.recipientDomains.contains(where: isLocal)
    }

    /// Whether the client's mail is ours to seal: it authenticated, is an
    /// internal host, or came in through a listed MTA daemon (recipients aside).
    public func isTrustedClient(_ facts: DirectionFacts) -> Bool {
        (facts.authType.map { !$0.isEmpty } ?? false)
            || (facts.clientAddress.map { address in internalHosts.contains { $0.contains(address) } } ?? false)
            || (facts.daemonName.map { mtaNames.contains($0) } ?? false)
    }
}
