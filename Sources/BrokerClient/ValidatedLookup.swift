import FedMailCore
import FederationProtocol

/// A validated answer for one recipient domain.
public struct ValidatedLookup: Codable, Sendable, Hashable {
    public var domain: String
    public var status: DomainTokenResult.Status
    /// The federation token (compact JWS), validated.
    public var token: String?
    public var claims: FederationClaims?
    /// The key container PEM, validated (chain, validity, SAN, key = `rkf`).
    public var keyContainer: String?
    /// Unix time after which the answer must not be used: the earlier of the token's `exp`
    /// and the key container's notAfter (for negative answers: when to ask again).
    public var expires: Int64
    /// Pop mode: the PoP key envelope for our organization key (see ``PoPKeyEnvelope``).
    public var popKey: String?
    public var reason: String?

    public init(domain: String, status: DomainTokenResult.Status, token: String? = nil, claims: FederationClaims? = nil,
                keyContainer: String? = nil, expires: Int64, popKey: String? = nil, reason: String? = nil) {
        self.domain = domain
        self.status = status
        self.token = token
        self.claims = claims
        self.keyContainer = keyContainer
        self.expires = expires
        self.popKey = popKey
        self.reason = reason
    }
}

extension ValidatedLookup {
    /// Whether this entry, read back from the disk cache and revalidated,
    /// answers the question it is filed under: the domain asked for (the
    /// token's `aud` too, for a positive answer) and the mode (a pop
    /// answer has its PoP key and `pop` claim, a direct one neither). A
    /// file copied under another domain's or mode's name is not used.
    public func answers(domain: String, mode: FederationMode) -> Bool {
        guard self.domain.lowercased() == domain.lowercased() else { return false }
        guard status == .ok else { return true }
        guard let claims, claims.aud.lowercased() == domain.lowercased() else { return false }
        switch mode {
        case .pop: return popKey != nil && claims.pop != nil
        case .direct: return popKey == nil && claims.pop == nil
        }
    }
}
