/// The whole decision of DESIGN.md "Opening verifies, in order", in one
/// pure function: given what the cryptographic layer verified (the GCM tag,
/// the signature, the signer's chain or pin — see ``VerifiedSeal``), the
/// federation tokens whose signatures verified, the envelope and the clock,
/// may this message be released as `fedmail=pass`?
///
/// The checks, in the order they run (the first that fails is the verdict):
///
/// | check name | what must hold |
/// |---|---|
/// | `recipient-binding` | the signed control part names the key we opened with, for one of our domains |
/// | `revocation-unknown` | (a temporary failure) a broker-issued signer can be checked against a current broker CRL (``SignerRevocation``) |
/// | `signer-revoked` | the signer certificate is not on the broker's CRL, or only as superseded at a date after signingTime |
/// | `token-signature` | every FedMail-Token for one of our domains verified against the pinned broker CA |
/// | `token-missing` | a broker-chained signer came with at least one token for our domains |
/// | `token-audience` | each token's `aud` is one of our domains |
/// | `token-purpose` | each token's `purpose` is `smtp-federation` |
/// | `token-validity` | signingTime lies inside each token's `[iat, exp]` (and after `nbf`) |
/// | `token-signer` | each token's `scf` is the signer certificate and its `sub` the signer organization |
/// | `token-binding` | each token's `jti` is listed in the signed control part |
/// | `from-missing`, `from-unparseable`, `sender-unparseable`, `from-too-many` | the author fields parse strictly (RFC 5322), within the cap |
/// | `signer-not-pinned-for-domain` | a domain the allowlist pins (`cert=`) is signed by exactly that certificate, and a pinned signer only for its pinned domains |
/// | `signer-domain-mismatch` | every From (and Sender) mailbox's domain is one of the signer's domains |
/// | `from-names-partner` | no display name or comment of From/Sender names one of our domains or a `require` partner other than the signer (as the plaintext anti-spoofing rule reads them) |
/// | `token-sender-domain` | ... and is in every token's `sdom` |
/// | `envelope-sender-unparseable`, `envelope-sender-domain` | the envelope sender's domain is a signer domain or a subdomain of one |
/// | `too-old` | signingTime is within `maxMessageAge` of now and not in the future |
/// | `recipient-address` | when the control part lists our recipients' address digests (a gateway always does), every envelope recipient of this delivery is listed there (for us or another recipient organization of the copy) |
///
/// Replay (exactly-once delivery) is decided by the milter's replay cache
/// afterwards, since it needs state.
public struct OpeningPolicy: Sendable {
    /// How tokens are required.
    public enum TokenRule: Sendable, Hashable {
        /// A signer accepted through the broker CA must bring at least one
        /// token for our domains (the milter).
        case required
        /// Tokens given are checked, none is required (`fedmailctl open`
        /// without `--token`).
        case checkedIfPresent
    }

    /// Our domains (`Domains`); empty means "any domain" for the binding
    /// checks (a command-line open that knows only the key).
    public var ourDomains: Set<DomainName>
    /// Domains the allowlist pins to a static partner certificate (`cert=`).
    public var pins: CertificatePins
    /// `MaxMessageAge` in seconds.
    public var maxMessageAge: Int64
    /// How far in the future a signingTime may lie (clock skew), seconds.
    public var allowedClockSkew: Int64 = Self.defaultAllowedClockSkew
    public static let defaultAllowedClockSkew: Int64 = 300
    /// Clock leeway for the token's own validity window, seconds.
    public var tokenLeeway: Int64 = 60
    public var tokenRule: TokenRule = .required
    /// The allowlist: its `require` partners may be named in an author
    /// field only by themselves.
    public var allowlist: FederationAllowlist = .empty
    /// The spellings of a field value a reader may see (NFKC from the caller).
    public var textForms: TextForms = .asWritten
    /// The most author mailboxes (From and Sender together) examined.
    public var maxAuthorMailboxes = AddressListParser.defaultMaxMailboxes

    public init(ourDomains: Set<DomainName>, pins: CertificatePins = .none, maxMessageAge: Int64,
                tokenRule: TokenRule = .required) {
        self.ourDomains = ourDomains
        self.pins = pins
        self.maxMessageAge = maxMessageAge
        self.tokenRule = tokenRule
    }

    /// The token purpose every federation token carries.
    public static let tokenPurpose = "smtp-federation"

    /// Decides. Pure and bounded: the work is linear in the size of the
    /// author fields (capped by the parser) and the number of tokens.
    public func evaluate(_ facts: OpeningFacts) -> OpeningVerdict {
        do {
            return .pass(try check(facts))
        } catch {
            return .fail(error)
        }
    }

    private func check(_ facts: OpeningFacts) throws(OpeningFailure) -> OpeningPass {
        let seal = facts.seal
        let signer = seal.signer

        // 1. The signed control part names us: the key we opened with, for
        //    one of our domains (nobody can re-encrypt a signed entity that
        //    was sealed for another organization to us).
        let namingUs = seal.control.recipients.filter { $0.keyId.lowercased() == seal.recipientKeyID }
        guard !namingUs.isEmpty else {
            throw OpeningFailure(.recipientBinding, "the signed control part does not name our key \(seal.recipientKeyID) among its recipients")
        }
        if !ourDomains.isEmpty {
            let named = namingUs.flatMap(\.domains).compactMap { DomainName($0) }
            guard named.contains(where: ourDomains.contains) else {
                throw OpeningFailure(.recipientBinding, "the signed control part names our key for \(namingUs.flatMap(\.domains).joined(separator: ", ")), none of them our domain")
            }
        }

        // 1b. Revocation: the broker's CRL (not for a pinned static partner).
        switch SignerRevocation.check(signer, state: facts.revocation, now: facts.now) {
        case .good: break
        case .revoked(let message): throw OpeningFailure(.signerRevoked, message)
        case .unknown(let message): throw OpeningFailure(.revocationUnknown, message)
        }

        // 2. Tokens (not for a pinned static partner, which has none).
        var tokens: [VerifiedTokenClaims] = []
        if !signer.pinned {
            for token in facts.tokens {
                switch token {
                case .verified(let claims): tokens.append(claims)
                case .unverifiable(let domain, let reason):
                    throw OpeningFailure(.tokenSignature, "the FedMail-Token for \(domain) does not verify: \(reason)")
                }
            }
            if tokenRule == .required && tokens.isEmpty {
                throw OpeningFailure(.tokenMissing, "no FedMail-Token for one of our domains")
            }
            for claims in tokens { try check(claims, seal: seal) }
        }

        // 3. Authorship: every From and Sender mailbox, parsed strictly.
        guard !seal.fromFields.isEmpty else { throw OpeningFailure(.fromMissing, "the original has no From field") }
        var authors: [MailboxAddress] = []
        for value in seal.fromFields {
            do {
                authors += try AddressListParser.mailboxes(inAddressList: value, maxMailboxes: maxAuthorMailboxes)
            } catch {
                throw OpeningFailure(.fromUnparseable, "the From field does not parse: \(error.message)")
            }
            guard authors.count <= maxAuthorMailboxes else {
                throw OpeningFailure(.fromTooMany, "more than \(maxAuthorMailboxes) author mailboxes")
            }
        }
        for value in seal.senderFields {
            do { authors.append(try AddressListParser.mailbox(value)) } catch {
                throw OpeningFailure(.senderUnparseable, "the Sender field does not parse: \(error.message)")
            }
            guard authors.count <= maxAuthorMailboxes else {
                throw OpeningFailure(.fromTooMany, "more than \(maxAuthorMailboxes) author mailboxes")
            }
        }
        let signerDomains = Set(signer.domains.compactMap { DomainName($0) })
        var authorDomains: [DomainName] = []
        var seenAuthorDomains = Set<DomainName>()
        for mailbox in authors {
            guard let domain = DomainName(mailbox.domain) else {
                throw OpeningFailure(.fromDomain, "author domain \(mailbox.domain) is not a domain name")
            }
            if seenAuthorDomains.insert(domain).inserted { authorDomains.append(domain) }
        }
        for domain in authorDomains {
            if let pin = pins.fingerprint(for: domain) {
                guard signer.pinned, signer.certificateSHA256 == pin else {
                    throw OpeningFailure(.signerNotPinnedForDomain, "the allowlist pins \(domain) to a static certificate; the signer (\(signer.organization)) is not that certificate")
                }
            } else if signer.pinned {
                throw OpeningFailure(.signerNotPinnedForDomain, "signer \(signer.organization) is a static partner certificate, but not the one the allowlist pins for \(domain)")
            }
            guard signerDomains.contains(domain) else {
                throw OpeningFailure(.fromDomain, "author domain \(domain) is not a domain of the signer \(signer.organization) (\(signer.domains.joined(separator: ", ")))")
            }
            for claims in tokens where !claims.sdom.contains(where: { DomainName($0) == domain }) {
                throw OpeningFailure(.tokenSenderDomain, "author domain \(domain) is not among the sender domains of token \(claims.jti) (\(claims.sdom.joined(separator: ", ")))")
            }
        }

        // 3b. What a reader sees beside the addresses: a display name or
        //     comment naming another `require` partner would make its
        //     impersonation look verified (plaintext saying so is refused).
        //     Our own domains likewise: only we speak for them.
        let named = SpoofedPartnerCheck.namedDomains(inFieldValues: seal.fromFields + seal.senderFields, textForms: textForms)
        for domain in named where !signerDomains.contains(domain) {
            if ourDomains.contains(where: { domain.isSubdomain(of: $0) }) {
                throw OpeningFailure(.fromNamesPartner, "the From field names \(domain), one of our own domains, but the signer is \(signer.organization)")
            }
            if allowlist.entry(for: domain)?.policy == .require {
                throw OpeningFailure(.fromNamesPartner, "the From field names \(domain), a require partner, but the signer is \(signer.organization)")
            }
        }

        // 4. The envelope sender, when there is one: a signer domain or a subdomain (bounces, VERP).
        if let sender = facts.envelopeSender {
            let parsed: MailboxAddress?
            do { parsed = try AddressListParser.envelopePath(sender) } catch {
                throw OpeningFailure(.envelopeSenderUnparseable, "the envelope sender does not parse: \(error.message)")
            }
            if let parsed {
                guard let domain = DomainName(parsed.domain), signerDomains.contains(where: { domain.isSubdomain(of: $0) }) else {
                    throw OpeningFailure(.envelopeSenderDomain, "envelope sender domain \(parsed.domain) is not a domain of the signer \(signer.organization)")
                }
            }
        }

        // 5. Age, on our clock (the signer's signingTime is only trusted to be inside it).
        if signer.signingTime < facts.now - maxMessageAge {
            throw OpeningFailure(.messageAge, "signed at \(signer.signingTime), older than the maximum message age of \(maxMessageAge) s")
        }
        if signer.signingTime > facts.now + allowedClockSkew {
            throw OpeningFailure(.messageAge, "signed at \(signer.signingTime), in the future (now \(facts.now))")
        }
        // 6. The envelope recipients, when the sealer bound them: each one
        //    this delivery reaches was listed, for us or for another
        //    recipient organization of the same copy (a copy taken off the
        //    wire is not opened for another mailbox of ours).
        if let recipients = facts.envelopeRecipients {
            if namingUs.contains(where: { $0.addresses != nil }) {
                let listed = Set(seal.control.recipients.compactMap(\.addresses).joined().map { $0.lowercased() })
                for recipient in recipients where !(recipient.digest.map { listed.contains($0.lowercased()) } ?? false) {
                    throw OpeningFailure(.recipientAddress, "the envelope recipient \(recipient.address) is not one the message was sealed for")
                }
            }
        }

        return OpeningPass(authorDomains: authorDomains, tokenIDs: tokens.map(\.jti), signerPinned: signer.pinned)
    }

    private func check(_ claims: VerifiedTokenClaims, seal: VerifiedSeal) throws(OpeningFailure) {
        let signer = seal.signer
        if !ourDomains.isEmpty {
            guard let audience = DomainName(claims.aud), ourDomains.contains(audience) else {
                throw OpeningFailure(.tokenAudience, "token \(claims.jti) audience \(claims.aud) is not one of our domains")
            }
        }
        guard claims.purpose == Self.tokenPurpose else {
            throw OpeningFailure(.tokenPurpose, "token \(claims.jti) purpose is '\(claims.purpose)'")
        }
        let notBefore = max(claims.iat, claims.nbf) - tokenLeeway
        guard notBefore <= signer.signingTime, signer.signingTime <= claims.exp + tokenLeeway else {
            throw OpeningFailure(.tokenValidity, "the message was signed at \(signer.signingTime), outside token \(claims.jti)'s validity [\(claims.iat), \(claims.exp)]")
        }
        guard claims.scf.lowercased() == signer.certificateSHA256 else {
            throw OpeningFailure(.tokenSigner, "the message was not signed with the certificate token \(claims.jti) names (scf)")
        }
        guard claims.sub == signer.organization else {
            throw OpeningFailure(.tokenSigner, "token \(claims.jti) was issued to \(claims.sub), the message is signed by \(signer.organization)")
        }
        guard seal.control.tokens.contains(claims.jti) else {
            throw OpeningFailure(.tokenBinding, "token \(claims.jti) is not listed in the signed control part")
        }
    }
}

/// The facts ``OpeningPolicy`` decides on.
public struct OpeningFacts: Sendable, Hashable {
    /// One FedMail-Token for one of our domains, as its signature check left it.
    public enum Token: Sendable, Hashable {
        case verified(VerifiedTokenClaims)
        case unverifiable(domain: String, reason: String)
    }

    /// One envelope recipient of the transaction, with its digest under
    /// the message's address salt (`RecipientAddressBinding`; nil when
    /// the address has no canonical mailbox).
    public struct EnvelopeRecipient: Sendable, Hashable {
        public var address: String
        public var digest: String?

        public init(address: String, digest: String?) {
            self.address = address
            self.digest = digest
        }
    }

    public var seal: VerifiedSeal
    /// The tokens of the message for our domains.
    public var tokens: [Token]
    /// The envelope recipients the message is about to be delivered to;
    /// nil when there are none to check (a command-line open).
    public var envelopeRecipients: [EnvelopeRecipient]?
    /// The envelope sender (MAIL FROM) as the MTA gave it; nil when not known.
    public var envelopeSender: String?
    /// Now, seconds since the epoch.
    public var now: Int64
    /// The broker's CRL as the caller has it (``SignerRevocation``).
    public var revocation: RevocationState

    public init(seal: VerifiedSeal, tokens: [Token], envelopeSender: String?, now: Int64,
                revocation: RevocationState = .notChecked, envelopeRecipients: [EnvelopeRecipient]? = nil) {
        self.seal = seal
        self.tokens = tokens
        self.envelopeRecipients = envelopeRecipients
        self.envelopeSender = envelopeSender
        self.now = now
        self.revocation = revocation
    }
}

/// The verdict of ``OpeningPolicy``.
public enum OpeningVerdict: Sendable, Hashable {
    case pass(OpeningPass)
    case fail(OpeningFailure)
}

/// What a passed opening established.
public struct OpeningPass: Sendable, Hashable {
    /// The author (From and Sender) domains, in order, without duplicates.
    public var authorDomains: [DomainName]
    /// The ids of the tokens it was accepted under (none for a static partner).
    public var tokenIDs: [String]
    public var signerPinned: Bool
}

/// A failed opening check: its stable name (for the SMTP reply, the log and
/// `fedmail=fail (<check>)`) and the details.
public struct OpeningFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable check name.
    public struct Check: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let recipientBinding = Check("recipient-binding")
        public static let recipientAddress = Check("recipient-address")
        public static let tokenSignature = Check("token-signature")
        public static let tokenMissing = Check("token-missing")
        public static let tokenAudience = Check("token-audience")
        public static let tokenPurpose = Check("token-purpose")
        public static let tokenValidity = Check("token-validity")
        public static let tokenSigner = Check("token-signer")
        public static let tokenBinding = Check("token-binding")
        public static let tokenSenderDomain = Check("token-sender-domain")
        public static let fromMissing = Check("from-missing")
        public static let fromUnparseable = Check("from-unparseable")
        public static let senderUnparseable = Check("sender-unparseable")
        public static let fromTooMany = Check("from-too-many")
        public static let signerNotPinnedForDomain = Check("signer-not-pinned-for-domain")
        public static let fromDomain = Check("signer-domain-mismatch")
        public static let fromNamesPartner = Check("from-names-partner")
        public static let envelopeSenderUnparseable = Check("envelope-sender-unparseable")
        public static let envelopeSenderDomain = Check("envelope-sender-domain")
        public static let messageAge = Check("too-old")
        /// The signer certificate is on the broker's CRL (``SignerRevocation``).
        public static let signerRevoked = Check("signer-revoked")
        /// No current CRL to decide on: a temporary failure, never a pass.
        public static let revocationUnknown = Check("revocation-unknown")
    }

    public var check: Check
    public var message: String

    public init(_ check: Check, _ message: String) {
        self.check = check
        self.message = message
    }

    public var description: String { "\(check.name): \(message)" }
}

/// The static partner certificates the allowlist pins (`cert=`), by domain:
/// exact entries and wildcards as ``FederationAllowlist/entry(for:)`` finds them.
public struct CertificatePins: Sendable {
    /// The allowlist whose `cert=` options say which domain is pinned.
    public var allowlist: FederationAllowlist
    /// Lower-case hex SHA-256 of each loaded certificate, by its `cert=` path.
    public var fingerprintsByPath: [String: String]

    /// Pins by exact domain, besides the allowlist's (`fedmailctl open --pin`:
    /// a pinned certificate signs for the domains it names).
    public var fingerprintsByDomain: [DomainName: String] = [:]

    public init(allowlist: FederationAllowlist, fingerprintsByPath: [String: String]) {
        self.allowlist = allowlist
        self.fingerprintsByPath = fingerprintsByPath.mapValues { $0.lowercased() }
    }

    public init(fingerprintsByDomain: [DomainName: String]) {
        self.init(allowlist: .empty, fingerprintsByPath: [:])
        self.fingerprintsByDomain = fingerprintsByDomain.mapValues { $0.lowercased() }
    }

    /// No pins.
    public static let none = CertificatePins(allowlist: .empty, fingerprintsByPath: [:])

    /// The fingerprint of the certificate pinned for `domain`, or nil when the
    /// allowlist pins none. A `cert=` whose file is not loaded pins an
    /// impossible fingerprint: nothing is accepted for that domain.
    public func fingerprint(for domain: DomainName) -> String? {
        if let fingerprint = fingerprintsByDomain[domain] { return fingerprint }
        guard let path = allowlist.entry(for: domain)?.certificatePath else { return nil }
        return fingerprintsByPath[path] ?? "-"
    }
}
