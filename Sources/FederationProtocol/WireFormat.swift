import FedMailCore
/// The JSON bodies of the broker's HTTPS interface (DESIGN.md, "Broker interface").
/// Both the broker and its clients use these types, so the two cannot drift apart.

/// `POST /v1/enrollments` request body.
public struct EnrollmentRequest: Codable, Sendable, Hashable {
    /// The organization's name (letters, digits, `.`, `_`, `-`; at most 64).
    public var organization: String
    /// The mail domains the organization serves.
    public var domains: [String]
    /// A PKCS#10 certificate signing request in PEM, signed by the organization key.
    public var csr: String

    public init(organization: String, domains: [String], csr: String) {
        self.organization = organization
        self.domains = domains
        self.csr = csr
    }
}

/// An enrollment's state, as `POST /v1/enrollments` and `GET /v1/enrollments/{id}` return it.
public struct EnrollmentResponse: Codable, Sendable, Hashable {
    public var id: String
    public var organization: String
    public var domains: [String]
    /// `pending-dns` (waiting for the DNS challenge records), `pending` (waiting for the
    /// operator), `approved`, `rejected`, or `key-replacement` (an enrollment naming an
    /// organization that already exists: held until an operator accepts it with
    /// `org approve --replace-key`).
    public var status: String
    /// The organization certificate (PEM) once approved.
    public var certificate: String?
    /// Why it was rejected.
    public var reason: String?
    /// While pending, when the broker validates domain control: one TXT record to publish per domain.
    public var challenges: [DomainChallenge]?

    public init(id: String, organization: String, domains: [String], status: String, certificate: String? = nil, reason: String? = nil,
                challenges: [DomainChallenge]? = nil) {
        self.id = id
        self.organization = organization
        self.domains = domains
        self.status = status
        self.certificate = certificate
        self.reason = reason
        self.challenges = challenges
    }
}

/// One DNS challenge of an enrollment, in the style of ACME dns-01 (RFC 8555 §8.4): publish
/// `name TXT "value"`; the value binds the enrollment, its key and the domain.
public struct DomainChallenge: Codable, Sendable, Hashable {
    public var domain: String
    /// `_fedmail-challenge.<domain>`.
    public var name: String
    public var value: String
    /// Whether the broker has seen the record.
    public var validated: Bool

    public init(domain: String, name: String, value: String, validated: Bool) {
        self.domain = domain
        self.name = name
        self.value = value
        self.validated = validated
    }

    /// The record as a zone-file line.
    public var zoneFileLine: String { "\(name). 300 IN TXT \"\(value)\"" }
}

/// `POST /v1/tokens` request body.
public struct TokenRequest: Codable, Sendable, Hashable {
    public var domains: [String]
    public var mode: FederationMode?

    public init(domains: [String], mode: FederationMode = .direct) {
        self.domains = domains
        self.mode = mode
    }
}

/// The broker's answer for one recipient domain.
public struct DomainTokenResult: Codable, Sendable, Hashable {
    /// `ok`, `not-federated` or `denied`.
    public enum Status: String, Codable, Sendable, Hashable {
        case ok
        case notFederated = "not-federated"
        case denied
    }

    public var domain: String
    public var status: Status
    /// The federation token (compact JWS) when `ok`.
    public var token: String?
    /// The key container (PEM certificate of the recipient organization's key) when `ok`.
    public var keyContainer: String?
    /// Unix time after which neither the token nor the key container may be used.
    public var expires: Int64?
    /// Pop mode: the PoP key encrypted to the caller's organization key (see ``PoPKeyEnvelope``).
    public var popKey: String?
    /// Why the answer is `denied`, in words.
    public var reason: String?

    public init(domain: String, status: Status, token: String? = nil, keyContainer: String? = nil,
                expires: Int64? = nil, popKey: String? = nil, reason: String? = nil) {
        self.domain = domain
        self.status = status
        self.token = token
        self.keyContainer = keyContainer
        self.expires = expires
        self.popKey = popKey
        self.reason = reason
    }
}

/// `POST /v1/tokens` response body.
public struct TokenResponse: Codable, Sendable, Hashable {
    public var results: [DomainTokenResult]

    public init(results: [DomainTokenResult]) {
        self.results = results
    }
}

/// `GET /v1/certificates/{address}` response body.
public struct KeyContainerResponse: Codable, Sendable, Hashable {
    public var address: String
    /// PEM certificate with the address as rfc822Name.
    public var keyContainer: String
    public var expires: Int64

    public init(address: String, keyContainer: String, expires: Int64) {
        self.address = address
        self.keyContainer = keyContainer
        self.expires = expires
    }
}

/// The body of every error answer.
public struct ErrorResponse: Codable, Sendable, Hashable {
    public var error: String
    public var message: String

    public init(error: String, message: String) {
        self.error = error
        self.message = message
    }
}

/// `POST /v1/rekey` request body (mutual TLS with the current organization
/// certificate): a CSR for the organization's NEW key, signed by that key.
public struct RekeyRequest: Codable, Sendable, Hashable {
    /// A PKCS#10 certificate signing request in PEM, signed by the new key (proof of possession).
    public var csr: String

    public init(csr: String) {
        self.csr = csr
    }
}

/// `POST /v1/renewal` and `POST /v1/rekey` response body: the organization's
/// new certificate. The certificate it replaces is revoked (superseded) once
/// this answer is built, so the caller must install this one.
public struct CertificateResponse: Codable, Sendable, Hashable {
    public var organization: String
    /// The new organization certificate (PEM).
    public var certificate: String
    /// The domains in its subjectAltName.
    public var domains: [String]
    /// Its notAfter (Unix time).
    public var expires: Int64
    /// SHA-256 (hex) of the certificate it replaced.
    public var replacedCertificateSHA256: String

    public init(organization: String, certificate: String, domains: [String], expires: Int64, replacedCertificateSHA256: String) {
        self.organization = organization
        self.certificate = certificate
        self.domains = domains
        self.expires = expires
        self.replacedCertificateSHA256 = replacedCertificateSHA256
    }
}
