/// What the broker (or a static `cert=`) said about one recipient domain.
public enum DomainFederation: Sendable, Hashable {
    /// A key to seal to: a valid token and key container from the broker,
    /// or a static partner certificate (`cert=`, no token). `recipientKey`
    /// identifies the key, so recipients of one organization share one
    /// recipientInfo.
    case sealable(recipientKey: String)
    /// The domain is not enrolled with the broker.
    case notFederated
    /// The broker's federation policy does not let us send to it.
    case denied
    /// No answer could be had (broker down, timeout, invalid answer).
    case unavailable(reason: String)
}

/// How a recipient is delivered, decided from the allowlist alone (at RCPT
/// time, before any broker lookup).
public enum RecipientClass: String, Sendable, Hashable {
    /// Listed `require` or `opportunistic`: a candidate for sealing.
    case federated
    /// Unlisted or `never`: traditional delivery.
    case traditional
}

/// One envelope recipient and what became of it.
public struct PlannedRecipient: Sendable, Hashable {
    public var address: String
    public var domain: DomainName?

    public init(address: String, domain: DomainName?) {
        self.address = address
        self.domain = domain
    }

    public init(address: String) {
        self.init(address: address, domain: DomainName(ofAddress: address))
    }
}

/// The end-of-message decision for an outbound message.
public enum OutboundPlan: Sendable, Hashable {
    /// Deliver unchanged. `notes` lists opportunistic recipients sent in
    /// plaintext and why (for a header saying so); empty when nothing was federated.
    case deliverPlaintext(notes: [String])
    /// Seal the message for every recipient in `sealed`, grouped by recipient
    /// organization key. `plaintext` recipients (when not empty) must get the
    /// original: the mixed-recipients policy decides how.
    case seal(sealed: [String: [String]], plaintext: [String], notes: [String])
    /// Do not accept the message now (4.7.x): a `require` domain had no token.
    case tempfail(reason: String)
}

/// Decides, without I/O, how an outbound message is delivered.
public struct OutboundPlanner: Sendable {
    public var allowlist: FederationAllowlist

    public init(allowlist: FederationAllowlist) {
        self.allowlist = allowlist
    }

    /// The RCPT-time class of a recipient (used by `MixedRecipients defer`).
    public func recipientClass(_ recipient: PlannedRecipient) -> RecipientClass {
        guard let domain = recipient.domain, let entry = allowlist.entry(for: domain),
              entry.policy != .never else { return .traditional }
        return .federated
    }

    /// The federated domains a message needs lookups for, deduplicated and sorted,
    /// so one batched broker request covers the message.
    public func domainsToLookUp(_ recipients: [PlannedRecipient]) -> [DomainName] {
        var domains = Set<DomainName>()
        for recipient in recipients where recipientClass(recipient) == .federated {
            if let domain = recipient.domain { domains.insert(domain) }
        }
        return domains.sorted()
    }

    /// The end-of-message plan given the lookup results per domain.
    ///
    /// - `require` without a token → ``OutboundPlan/tempfail(reason:)`` (never plaintext).
    /// - `opportunistic` without a token → plaintext, with a note.
    /// - any token → sealed, grouped by recipient key.
    public func plan(recipients: [PlannedRecipient], lookups: [DomainName: DomainFederation]) -> OutboundPlan {
        var sealed: [String: [String]] = [:]
        var plaintext: [String] = []
        var notes: [String] = []
        var notedDomains = Set<DomainName>()
        for recipient in recipients {
            guard recipientClass(recipient) == .federated, let domain = recipient.domain,
                  let entry = allowlist.entry(for: domain) else {
                plaintext.append(recipient.address)
                continue
            }
            let lookup = lookups[domain] ?? .unavailable(reason: "no lookup was made")
            if case .sealable(let key) = lookup {
                sealed[key, default: []].append(recipient.address)
                continue
            }
            let why = Self.describe(lookup)
            if entry.policy == .require {
                return .tempfail(reason: "federation required for \(domain) but \(why)")
            }
            plaintext.append(recipient.address)
            if notedDomains.insert(domain).inserted { notes.append("\(domain): \(why)") }
        }
        if sealed.isEmpty { return .deliverPlaintext(notes: notes) }
        return .seal(sealed: sealed, plaintext: plaintext, notes: notes)
    }

    static func describe(_ lookup: DomainFederation) -> String {
        switch lookup {
        case .sealable: return "a key to seal to is available"
        case .notFederated: return "the domain is not federated"
        case .denied: return "the partner's policy denies us"
        case .unavailable(let reason): return "no token could be had (\(reason))"
        }
    }
}
