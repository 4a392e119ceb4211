/// Why a certificate was revoked: the CRLReason values of RFC 5280
/// section 5.3.1 that FedMail uses, with what each means for mail signed
/// with the certificate.
public enum RevocationReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// The key may be known to someone else: nothing signed with it is
    /// trusted any more, whatever its signingTime (nor for the reasons
    /// below but superseded: ``keepsEarlierSignatures``).
    case keyCompromise = "key-compromise"
    /// The organization's domains or name changed (a domain removed).
    case affiliationChanged = "affiliation-changed"
    /// A new certificate replaced this one (renewal, rekey, a domain added).
    case superseded
    /// The organization left the federation.
    case cessationOfOperation = "cessation-of-operation"
    /// No reason given.
    case unspecified

    /// The CRLReason code (RFC 5280 section 5.3.1).
    public var code: Int {
        switch self {
        case .unspecified: 0
        case .keyCompromise: 1
        case .affiliationChanged: 3
        case .superseded: 4
        case .cessationOfOperation: 5
        }
    }

    /// The reason for a CRLReason code; nil for a code FedMail does not use.
    public init?(code: Int) {
        guard let reason = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = reason
    }

    /// Whether mail signed before the revocation still stands: only for a
    /// routine replacement (superseded: a renewal, a rekey, a domain
    /// added), so that mail signed with the old certificate and still in a
    /// queue is delivered. For every other reason the signer's own
    /// signingTime cannot be trusted to say when it signed: an
    /// organization expelled, or one that lost a domain, would backdate it.
    public var keepsEarlierSignatures: Bool { self == .superseded }
}
