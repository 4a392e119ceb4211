/// The broker's certificate revocation list as the opening policy needs it:
/// which broker-issued certificates are revoked, since when and why, and
/// how current the list is. Built from a CRL whose signature, issuer and
/// dates were verified against the pinned broker CA (FederationProtocol's
/// `CertificateRevocationList`); nothing here is parsed from the wire.
public struct RevocationList: Sendable, Hashable {
    /// One revoked certificate.
    public struct Entry: Sendable, Hashable {
        /// When the broker revoked it, seconds since the epoch.
        public var revokedAt: Int64
        public var reason: RevocationReason

        public init(revokedAt: Int64, reason: RevocationReason) {
            self.revokedAt = revokedAt
            self.reason = reason
        }
    }

    /// Revoked certificates by serial number (``normalizedSerial(_:)``).
    public var entries: [String: Entry]
    /// The CRL's thisUpdate: when the broker issued it, seconds since the epoch.
    public var thisUpdate: Int64
    /// The CRL's nextUpdate, if it has one.
    public var nextUpdate: Int64?
    /// The CRL's cRLNumber (monotonic at the broker), when present.
    public var number: UInt64?

    public init(entries: [String: Entry], thisUpdate: Int64, nextUpdate: Int64?, number: UInt64? = nil) {
        self.entries = entries
        self.thisUpdate = thisUpdate
        self.nextUpdate = nextUpdate
        self.number = number
    }

    /// A serial number's canonical text: lower-case hex of its magnitude
    /// without leading zero bytes ("00" for zero). Both sides (the CRL and
    /// the signer certificate) are compared in this form.
    public static func normalizedSerial(_ bytes: some Collection<UInt8>) -> String {
        let magnitude = Array(bytes.drop(while: { $0 == 0 }))
        return magnitude.isEmpty ? "00" : Hex.encode(magnitude)
    }

    /// The entry for a certificate serial (any hex spelling), if revoked.
    public func entry(forSerial serial: String) -> Entry? {
        entries[Self.normalizeHex(serial)]
    }

    static func normalizeHex(_ text: String) -> String {
        let lower = text.lowercased()
        var trimmed = Substring(lower)
        while trimmed.hasPrefix("00") && trimmed.count > 2 { trimmed = trimmed.dropFirst(2) }
        if trimmed.count % 2 == 1 { return "0" + trimmed }
        return String(trimmed)
    }

    /// Whether the list is current at `now`: issued no more than `maxAge`
    /// seconds ago (the gateway's `CRLMaxAge`) and not past its own
    /// nextUpdate (the broker's promise). A list issued in the future
    /// (beyond `clockSkew`) is not current either.
    public func freshness(now: Int64, maxAge: Int64, clockSkew: Int64 = 300) -> Freshness {
        if thisUpdate > now + clockSkew { return .notYetValid }
        if now - thisUpdate > maxAge { return .tooOld(age: now - thisUpdate) }
        if let nextUpdate, now > nextUpdate + clockSkew { return .tooOld(age: now - thisUpdate) }
        return .current
    }

    /// The result of ``freshness(now:maxAge:clockSkew:)``.
    public enum Freshness: Sendable, Hashable {
        case current
        case tooOld(age: Int64)
        case notYetValid
    }
}
