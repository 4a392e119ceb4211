import JWTKit

/// The claims of a federation token (DESIGN.md, "Trust model").
///
/// Fingerprints are lower-case hexadecimal SHA-256 digests:
/// - `scf`: of the DER encoding of the sender organization's certificate, the
///   one it presented over mutual TLS (and will sign messages with);
/// - `rkf`: of the DER `SubjectPublicKeyInfo` of the recipient organization's
///   key, the key in the key container (`openssl pkey -pubout -outform DER | sha256sum`).
///
/// Times are seconds since the Unix epoch.
public struct FederationClaims: JWTPayload, Codable, Sendable, Hashable {
    /// The value of `purpose` in every token.
    public static let purposeValue = "smtp-federation"

    /// The broker (its CA subject's common name).
    public var iss: String
    /// The sender organization's id (its name).
    public var sub: String
    /// The sender organization's domains.
    public var sdom: [String]
    /// SHA-256 of the sender organization certificate.
    public var scf: String
    /// The recipient domain.
    public var aud: String
    /// The recipient organization's id.
    public var rorg: String
    /// SHA-256 of the recipient organization's public key.
    public var rkf: String
    /// Always ``purposeValue``.
    public var purpose: String
    public var iat: Int64
    public var nbf: Int64
    public var exp: Int64
    /// Random 128-bit token id in hex.
    public var jti: String
    /// Pop mode: the PoP key encrypted to the recipient organization's key (see ``PoPKeyEnvelope``).
    public var pop: String?

    public init(iss: String, sub: String, sdom: [String], scf: String, aud: String, rorg: String, rkf: String,
                purpose: String = FederationClaims.purposeValue, iat: Int64, nbf: Int64, exp: Int64, jti: String, pop: String? = nil) {
        self.iss = iss
        self.sub = sub
        self.sdom = sdom
        self.scf = scf
        self.aud = aud
        self.rorg = rorg
        self.rkf = rkf
        self.purpose = purpose
        self.iat = iat
        self.nbf = nbf
        self.exp = exp
        self.jti = jti
        self.pop = pop
    }

    /// Signature-level checks only; the claims are checked by ``TokenVerifier``,
    /// which knows the expected audience and the time.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}
