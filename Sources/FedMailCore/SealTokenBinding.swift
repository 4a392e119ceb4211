/// The checks that bind a verified federation token to the sealed message
/// it came with (DESIGN.md "Opening verifies"): the token was issued for
/// one of our domains, for the `smtp-federation` purpose, was valid when the
/// message was signed, names the certificate that signed it (`scf`), and
/// its id is listed in the signed control part (so it cannot be swapped
/// onto another message). Pure: the token's signature is verified by the
/// broker client against the pinned broker CA before these checks run.
public struct SealTokenBinding: Sendable, Hashable {
    /// The claims of the token that matter here.
    public struct Claims: Sendable, Hashable {
        public var aud: String
        public var purpose: String
        public var nbf: Int64
        public var exp: Int64
        public var scf: String
        public var jti: String
        public init(aud: String, purpose: String, nbf: Int64, exp: Int64, scf: String, jti: String) {
            self.aud = aud
            self.purpose = purpose
            self.nbf = nbf
            self.exp = exp
            self.scf = scf
            self.jti = jti
        }
    }

    /// A failed binding check: `check` names it for the SMTP reply.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var check: String
        public var message: String
        public var description: String { "\(check): \(message)" }
    }

    /// Our domains (`Domains`).
    public var ourDomains: Set<DomainName>
    /// Allowed clock difference in seconds.
    public var leeway: Int64

    public init(ourDomains: Set<DomainName>, leeway: Int64 = 60) {
        self.ourDomains = ourDomains
        self.leeway = leeway
    }

    /// Checks one token's claims.
    ///
    /// - Parameters:
    ///   - signingTime: the signed signingTime, seconds since the epoch.
    ///   - signerCertificateSHA256: lower-case hex SHA-256 of the signer certificate.
    ///   - signedTokenIDs: the token ids of the signed control part.
    public func check(_ claims: Claims, signingTime: Int64, signerCertificateSHA256: String,
                      signedTokenIDs: [String]) throws(Failure) {
        guard let audience = DomainName(claims.aud), ourDomains.contains(audience) else {
            throw Failure(check: "token-audience", message: "token audience \(claims.aud) is not one of our domains")
        }
        guard claims.purpose == "smtp-federation" else {
            throw Failure(check: "token-purpose", message: "token purpose is '\(claims.purpose)'")
        }
        guard claims.nbf - leeway <= signingTime, signingTime < claims.exp + leeway else {
            throw Failure(check: "token-validity", message: "token was not valid when the message was signed")
        }
        guard claims.scf.lowercased() == signerCertificateSHA256.lowercased() else {
            throw Failure(check: "token-signer", message: "the message was not signed with the certificate the token names (scf)")
        }
        guard signedTokenIDs.contains(claims.jti) else {
            throw Failure(check: "token-binding", message: "token \(claims.jti) is not listed in the signed control part")
        }
    }
}
