/// The signed control part of a sealed message
/// (`application/vnd.fedmail.control+json`): what the sealing gateway
/// checked before sealing and which federation tokens it sealed under.
///
/// Unknown members are ignored on decoding, so later versions can add
/// fields without breaking older receivers.
public struct ControlFlags: Codable, Sendable, Hashable {
    /// The result of one scan the sealing gateway ran (or trusted).
    public struct ScanResult: Codable, Sendable, Hashable {
        /// `clean`, `infected`, `spam`, `ham`, `error`… as the scanner says.
        public var status: String
        /// The scanner, e.g. `ClamAV 1.0.7`.
        public var engine: String?
        /// When the scan ran, RFC 3339.
        public var at: String?
        /// A score, for spam scanners that give one.
        public var score: Double?

        public init(status: String, engine: String? = nil, at: String? = nil, score: Double? = nil) {
            self.status = status
            self.engine = engine
            self.at = at
            self.score = score
        }
    }

    /// One recipient organization the message was sealed for: the key its
    /// recipientInfo names and the recipient domains it was sealed for.
    public struct Recipient: Codable, Sendable, Hashable {
        /// Lower-case hex of the recipientInfo's key identifier (the
        /// subjectKeyIdentifier, or the KEK id in pop mode).
        public var keyId: String
        /// The recipient domains of that organization, canonical form.
        public var domains: [String]
        /// The envelope recipients the message was sealed for at that
        /// organization, each as its ``RecipientAddressBinding`` digest
        /// under ``ControlFlags/addressSalt`` (hashed: the other recipient
        /// organizations of a shared copy do not read who was Bcc'd, though
        /// they see the count and can test a guessed address).
        /// `nil` when the sealer did not bind recipients (`fedmailctl seal`).
        public var addresses: [String]?

        public init(keyId: String, domains: [String], addresses: [String]? = nil) {
            self.keyId = keyId
            self.domains = domains
            self.addresses = addresses
        }
    }

    /// Format version; 1.
    public var v: Int
    /// The gateway (host name) that sealed the message.
    public var sealedBy: String?
    /// The `jti` of every federation token the message was sealed under.
    public var tokens: [String]
    /// The recipient organizations the message was sealed for (signed, so
    /// a recipient cannot re-encrypt the signed entity to somebody else).
    public var recipients: [Recipient]
    /// The salt of the recipients' address digests (base64url of 16
    /// random bytes), when they are bound.
    public var addressSalt: String?
    /// The virus scan, if one ran before sealing.
    public var virusScan: ScanResult?
    /// The spam scan, if one ran before sealing.
    public var spamScan: ScanResult?

    public init(sealedBy: String? = nil, tokens: [String] = [], recipients: [Recipient] = [], addressSalt: String? = nil,
                virusScan: ScanResult? = nil, spamScan: ScanResult? = nil) {
        self.v = 1
        self.sealedBy = sealedBy
        self.tokens = tokens
        self.recipients = recipients
        self.addressSalt = addressSalt
        self.virusScan = virusScan
        self.spamScan = spamScan
    }

    enum CodingKeys: String, CodingKey { case v, sealedBy, tokens, recipients, addressSalt, virusScan, spamScan }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        v = try c.decode(Int.self, forKey: .v)
        sealedBy = try c.decodeIfPresent(String.self, forKey: .sealedBy)
        tokens = try c.decodeIfPresent([String].self, forKey: .tokens) ?? []
        recipients = try c.decodeIfPresent([Recipient].self, forKey: .recipients) ?? []
        addressSalt = try c.decodeIfPresent(String.self, forKey: .addressSalt)
        virusScan = try c.decodeIfPresent(ScanResult.self, forKey: .virusScan)
        spamScan = try c.decodeIfPresent(ScanResult.self, forKey: .spamScan)
    }
}
