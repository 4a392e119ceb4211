/// The key a group of recipients is sealed to: recipients with the same
/// key share one recipientInfo.
public enum RecipientKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// A recipient organization's key from a broker key container (direct
    /// mode), by the SHA-256 of its public key (the token's `rkf`).
    case organizationKey(sha256: String)
    /// A PoP key (pop mode): one KEKRecipientInfo per token, by its `jti`.
    case proofOfPossession(tokenID: String)
    /// A static partner certificate (`cert=`), by its SHA-256.
    case staticCertificate(sha256: String)

    public var description: String {
        switch self {
        case .organizationKey(let sha256): return "key:\(sha256)"
        case .proofOfPossession(let tokenID): return "pop:\(tokenID)"
        case .staticCertificate(let sha256): return "static:\(sha256)"
        }
    }

    public static func < (lhs: RecipientKey, rhs: RecipientKey) -> Bool { lhs.description < rhs.description }
}

/// What the broker (or a static `cert=`) said about one recipient domain.
public enum DomainFederation: Sendable, Hashable {
    /// A key to seal to: a valid token and key container from the broker,
    /// or a static partner certificate (`cert=`, no token).
    case sealable(recipientKey: RecipientKey)
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
    /// original — local ones included: the mixed-recipients policy decides how.
    case seal(sealed: [RecipientKey: [String]], plaintext: [String], notes: [String])
    /// Do not send: a `require` domain had no token (451 4.7.0, or 550 with
    /// `On-BrokerUnavailable reject` when the broker could not answer), or
    /// an opportunistic one could not be looked up and `On-BrokerUnavailable`
    /// says to stop.
    case refuse(FailureDecision)
}

/// Decides, without I/O, how an outbound message is delivered.
public struct OutboundPlanner: Sendable {
    public var allowlist: FederationAllowlist
    /// Our own domains (`Domains`): their recipients keep the original and
    /// are never looked up, whatever the allowlist says.
    public var localDomains: Set<DomainName>
    /// `On-BrokerUnavailable`; `nil` is the policy's default (tempfail for
    /// `require`, plaintext for `opportunistic`).
    public var onBrokerUnavailable: MilterConfiguration.FailureAction?

    public init(allowlist: FederationAllowlist, localDomains: Set<DomainName> = [],
                onBrokerUnavailable: MilterConfiguration.FailureAction? = nil) {
        self.allowlist = allowlist
        self.localDomains = localDomains
        self.onBrokerUnavailable = onBrokerUnavailable
    }

    /// Whether a recipient is one of ours.
    public func isLocal(_ recipient: PlannedRecipient) -> Bool {
        recipient.domain.map(localDomains.contains) ?? false
    }

    /// The RCPT-time class of a recipient (used by `MixedRecipients defer`).
    public func recipientClass(_ recipient: PlannedRecipient) -> RecipientClass {
        guard let domain = recipient.domain, !localDomains.contains(domain), let entry = allowlist.entry(for: domain),
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
    /// - `require` without a token → ``OutboundPlan/refuse(_:)`` (never plaintext):
    ///   tempfail, or reject when the broker could not answer and
    ///   `On-BrokerUnavailable` is `reject`.
    /// - `opportunistic` without a token → plaintext, with a note; when the
    ///   broker could not answer, `On-BrokerUnavailable` may stop it instead.
    /// - any token → sealed, grouped by recipient key; local recipients and
    ///   the rest keep the original.
    public func plan(recipients: [PlannedRecipient], lookups: [DomainName: DomainFederation]) -> OutboundPlan {
        var sealed: [RecipientKey: [String]] = [:]
        var plaintext: [String] = []
        var notes: [String] = []
        var brokerUnavailable = false
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
            let unavailable: Bool
            if case .unavailable = lookup { unavailable = true } else { unavailable = false }
            if entry.policy == .require {
                let action: MilterConfiguration.FailureAction = unavailable && onBrokerUnavailable == .reject ? .reject : .tempfail
                return .refuse(.noToken("federation required for \(domain) but \(why)", action: action))
            }
            brokerUnavailable = brokerUnavailable || unavailable
            plaintext.append(recipient.address)
            if notedDomains.insert(domain).inserted { notes.append("\(domain): \(why)") }
        }
        if brokerUnavailable, let action = onBrokerUnavailable, !notes.isEmpty {
            let reason = notes.joined(separator: "; ")
            // Nothing sealed: every action applies; with a sealed part only
            // tempfail and reject (a half-sealed message is not held).
            if sealed.isEmpty ? action != .accept : (action == .tempfail || action == .reject) {
                return .refuse(.noToken(reason, action: action))
            }
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
