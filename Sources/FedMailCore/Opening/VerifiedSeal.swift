/// What the cryptographic layer verified about a sealed message before any
/// of it is released: the GCM tag, the signature, the signer's chain to the
/// broker CA (or its pin), and the signed content it read. These are the
/// facts ``OpeningPolicy`` decides on; nothing here is trusted because of
/// where it sits in the message, only because it was inside the signature.
public struct VerifiedSeal: Sendable, Hashable {
    /// The signer, as its verified certificate says.
    public struct Signer: Sendable, Hashable {
        /// The organization (certificate subject O, else CN): the token's `sub`.
        public var organization: String
        /// The certificate's dNSName entries (the organization's mail domains).
        public var domains: [String]
        /// Lower-case hex SHA-256 of the signer certificate (the token's `scf`).
        public var certificateSHA256: String
        /// Accepted as a pinned static partner certificate (allowlist `cert=`)
        /// rather than by its chain to the broker CA.
        public var pinned: Bool
        /// The signed signingTime attribute, seconds since the epoch.
        public var signingTime: Int64
        /// The certificate's serial number in hex (as
        /// ``RevocationList/normalizedSerial(_:)`` writes it): what the
        /// broker's CRL lists. Empty when not known.
        public var serial: String

        public init(organization: String, domains: [String], certificateSHA256: String, pinned: Bool, signingTime: Int64,
                    serial: String = "") {
            self.organization = organization
            self.domains = domains
            self.certificateSHA256 = certificateSHA256.lowercased()
            self.pinned = pinned
            self.signingTime = signingTime
            self.serial = serial.lowercased()
        }
    }

    public var signer: Signer
    /// Lower-case hex of the key identifier of the recipientInfo we opened
    /// with (our subjectKeyIdentifier, or the KEK id in pop mode).
    public var recipientKeyID: String
    /// The signed control part.
    public var control: ControlFlags
    /// The values of every `From` field of the signed original.
    public var fromFields: [String]
    /// The values of every `Sender` field of the signed original.
    public var senderFields: [String]
    /// SHA-256 of the SignerInfo signature: identifies this seal (the
    /// replay cache's key).
    public var sealID: [UInt8]

    public init(signer: Signer, recipientKeyID: String, control: ControlFlags, fromFields: [String],
                senderFields: [String], sealID: [UInt8]) {
        self.signer = signer
        self.recipientKeyID = recipientKeyID.lowercased()
        self.control = control
        self.fromFields = fromFields
        self.senderFields = senderFields
        self.sealID = sealID
    }
}

/// The claims of a federation token whose signature verified against the
/// pinned broker CA (the time checks are the policy's, not the verifier's).
public struct VerifiedTokenClaims: Sendable, Hashable {
    public var aud: String
    public var purpose: String
    /// The sender organization id.
    public var sub: String
    /// The sender organization's domains.
    public var sdom: [String]
    /// SHA-256 (hex) of the sender organization certificate.
    public var scf: String
    public var iat: Int64
    public var nbf: Int64
    public var exp: Int64
    public var jti: String

    public init(aud: String, purpose: String, sub: String, sdom: [String], scf: String,
                iat: Int64, nbf: Int64, exp: Int64, jti: String) {
        self.aud = aud
        self.purpose = purpose
        self.sub = sub
        self.sdom = sdom
        self.scf = scf
        self.iat = iat
        self.nbf = nbf
        self.exp = exp
        self.jti = jti
    }
}
