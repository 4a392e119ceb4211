/// An enrolled organization as the broker stores it.
public struct Organization: Sendable, Hashable, Codable {
    /// Whether the organization may take part in federation.
    public enum Status: String, Sendable, Codable {
        case active
        case revoked
    }

    /// The organization's name, also its id in tokens (`sub`, `rorg`).
    public var name: String
    public var status: Status
    /// The current organization certificate (PEM).
    public var certificatePEM: String
    /// Lower-case hex SHA-256 of the current certificate's DER.
    public var certificateSHA256: String
    /// Base64 DER of the organization's SubjectPublicKeyInfo.
    public var publicKeyDER: String
    /// Lower-case hex SHA-256 of the SubjectPublicKeyInfo DER (`rkf`).
    public var keySHA256: String
    /// When set, only organizations listed in the policy may send to this one.
    public var restricted: Bool
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(name: String, status: Status, certificatePEM: String, certificateSHA256: String,
                publicKeyDER: String, keySHA256: String, restricted: Bool, createdAt: Int64, updatedAt: Int64) {
        self.name = name
        self.status = status
        self.certificatePEM = certificatePEM
        self.certificateSHA256 = certificateSHA256
        self.publicKeyDER = publicKeyDER
        self.keySHA256 = keySHA256
        self.restricted = restricted
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A request to enroll (or re-key) an organization.
public struct Enrollment: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Codable {
        case pending
        case approved
        case rejected
        /// An unauthenticated enrollment naming an organization that already
        /// exists (any status): someone who lost the key, or someone trying to
        /// become that organization. Only `org approve --replace-key` accepts it.
        case keyReplacement = "key-replacement"
    }

    /// Random 128-bit id in hex.
    public var id: String
    public var organization: String
    public var domains: [String]
    public var csrPEM: String
    /// Lower-case hex SHA-256 of the CSR's SubjectPublicKeyInfo DER.
    public var keySHA256: String
    public var status: Status
    /// The issued certificate once approved.
    public var certificatePEM: String?
    /// Why it was rejected, if it was.
    public var reason: String?
    public var createdAt: Int64
    public var decidedAt: Int64?
    /// The random token the DNS challenges of this enrollment are derived from
    /// (nil for enrollments submitted before domain control validation existed).
    public var challengeToken: String?
    /// The domains whose `_fedmail-challenge` TXT record the broker has seen.
    public var validatedDomains: [String]
    /// The client address the enrollment came from (for the per-source quota).
    public var source: String?

    public init(id: String, organization: String, domains: [String], csrPEM: String, keySHA256: String,
                status: Status, certificatePEM: String? = nil, reason: String? = nil,
                createdAt: Int64, decidedAt: Int64? = nil,
                challengeToken: String? = nil, validatedDomains: [String] = [], source: String? = nil) {
        self.id = id
        self.organization = organization
        self.domains = domains
        self.csrPEM = csrPEM
        self.keySHA256 = keySHA256
        self.status = status
        self.certificatePEM = certificatePEM
        self.reason = reason
        self.createdAt = createdAt
        self.decidedAt = decidedAt
        self.challengeToken = challengeToken
        self.validatedDomains = validatedDomains
        self.source = source
    }
}

/// One line of the append-only audit trail.
public struct AuditEvent: Sendable, Hashable, Codable {
    public var id: Int64
    public var at: Int64
    /// Who acted: `operator`, `broker`, or an organization name.
    public var actor: String
    /// What happened, e.g. `enrollment.submitted`, `token.issued`.
    public var action: String
    public var organization: String?
    public var detail: String
    /// Where the request came from: the client's address and port for HTTPS
    /// requests (`192.0.2.1:40312`), `local` for operator commands.
    public var source: String?
    /// Who the TLS layer says the client is: `cert=<sha256> cn=<name>` of the
    /// verified client certificate, `none` when it sent none; nil for operator commands.
    public var identity: String?

    public init(id: Int64 = 0, at: Int64, actor: String, action: String, organization: String?, detail: String,
                source: String? = nil, identity: String? = nil) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.organization = organization
        self.detail = detail
        self.source = source
        self.identity = identity
    }
}
