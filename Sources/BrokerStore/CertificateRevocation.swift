/// A revoked organization certificate, as the broker's CRL lists it.
public struct CertificateRevocation: Sendable, Hashable, Codable {
    /// Lower-case hex SHA-256 of the certificate's DER.
    public var certificateSHA256: String
    /// Lower-case hex of the serial number's magnitude (no leading zero bytes).
    public var serial: String
    public var organization: String
    /// Lower-case hex SHA-256 of the certificate's SubjectPublicKeyInfo.
    public var keySHA256: String
    /// The certificate's notAfter, seconds since the epoch.
    public var notAfter: Int64
    /// Seconds since the epoch.
    public var revokedAt: Int64
    /// The RevocationReason raw value (`superseded`, `key-compromise`, …).
    public var reason: String

    public init(certificateSHA256: String, serial: String, organization: String, keySHA256: String,
                notAfter: Int64, revokedAt: Int64, reason: String) {
        self.certificateSHA256 = certificateSHA256
        self.serial = serial
        self.organization = organization
        self.keySHA256 = keySHA256
        self.notAfter = notAfter
        self.revokedAt = revokedAt
        self.reason = reason
    }

    /// The reason that marks a compromised key (every certificate for the key gets it).
    public static let keyCompromise = "key-compromise"
    /// The reason of a routine replacement (RevocationReason.superseded).
    public static let superseded = "superseded"
}
