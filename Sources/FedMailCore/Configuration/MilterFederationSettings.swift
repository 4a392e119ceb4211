/// The federation settings of `fedmail-milter` (DESIGN.md "Configuration"):
/// which way it works, our domains, how direction is decided, our keys, the
/// brokers, the allowlist, mixed-recipient handling and the failure actions.
/// Pure: read from a parsed ``ConfigurationFile``; loading the files they name
/// is the daemon's job.
public struct MilterFederationSettings: Sendable, Hashable {
    /// `Mode`: what the milter does.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Seal outbound mail only.
        case seal
        /// Open inbound mail only.
        case open
        /// Both (default).
        case both

        /// Whether outbound mail is sealed.
        public var seals: Bool { self != .open }
        /// Whether inbound mail is opened.
        public var opens: Bool { self != .seal }
    }

    /// `MixedRecipients`: a message with federated and traditional recipients.
    public enum MixedRecipients: String, Sendable, Hashable, CaseIterable {
        /// Re-inject a sealed copy for the federated recipients (default).
        case split
        /// Answer `452 4.5.3` at RCPT to recipients of another class than the first.
        case `defer`
        /// Refuse the message.
        case reject
    }

    /// A named broker (`Broker name url`).
    public struct NamedBroker: Sendable, Hashable {
        public var name: String
        public var url: String
        public init(name: String, url: String) {
            self.name = name
            self.url = url
        }
    }

    /// Names of the settings this struct reads.
    public static let knownNames: [String] = [
        "Mode", "Domains", "AuthservID", "InternalHosts", "MTA", "OrgKey", "OrgCertificate",
        "BrokerURL", "Broker", "BrokerCA", "FederationAllowlist", "TokenCacheDir", "MixedRecipients",
        "Reinject", "ProtectSubject", "MaxMessageAge", "BrokerTimeout", "On-BrokerUnavailable",
        "On-BadSeal", "On-NotForUs", "On-SpoofedPartner", "On-ForeignFrom", "TrustedAuthservIDs", "StateDirectory", "RecipientDelimiter",
        "PreviousOrgKey", "PreviousOrgCertificate", "PreviousOrgKeyGrace", "CRLRefresh", "CRLMaxAge",
    ]
    /// Names that may be given several times.
    public static let repeatableNames: Set<String> = ["Broker"]

    /// `Mode` (default `both`).
    public var mode: Mode = .both
    /// `Domains`: the domains this gateway receives mail for.
    public var domains: [DomainName] = []
    /// `AuthservID`: the authserv-id of our Authentication-Results; `nil` means the host name.
    public var authservID: String?
    /// `InternalHosts` (default 127.0.0.1 and ::1).
    public var internalHosts: [IPNetwork] = Self.defaultInternalHosts
    /// `MTA`: `{daemon_name}` values whose mail is outbound.
    public var mtaNames: [String] = []
    /// `OrgKey`: our organization private key (PEM, mode 0600).
    public var orgKeyPath: String?
    /// `OrgCertificate`: our organization certificate issued by the broker.
    public var orgCertificatePath: String?
    /// `BrokerURL`: the default broker.
    public var brokerURL: String?
    /// `Broker name url`: named brokers for the allowlist's `broker=`.
    public var namedBrokers: [NamedBroker] = []
    /// `BrokerCA`: the pinned broker CA certificate.
    public var brokerCAPath: String?
    /// `FederationAllowlist`: the allowlist file.
    public var allowlistPath: String?
    /// `TokenCacheDir`: the on-disk token cache.
    public var tokenCacheDirectory: String?
    /// `MixedRecipients` (default `split`).
    public var mixedRecipients: MixedRecipients = .split
    /// `Reinject`: `unix:/PATH` (preferred: only the MTA's own users may
    /// connect) or `inet:PORT@HOST` of the SMTP service without milters
    /// for sealed copies.
    public var reinject: SocketSpec?
    /// `ProtectSubject` (default yes).
    public var protectSubject = true
    /// `MaxMessageAge` in seconds (default 5 days).
    public var maxMessageAge = 5 * 86_400
    /// `CRLRefresh` in seconds (default 15 minutes): how often the broker's
    /// CRL (`GET /v1/crl`) is fetched.
    public var crlRefresh = 15 * 60
    /// `CRLMaxAge` in seconds (default 24 hours): sealed mail from a
    /// broker-issued signer is tempfailed (`revocation-unknown`) while the
    /// newest verified CRL was issued longer ago than this (or is past its
    /// nextUpdate), or there is none.
    public var crlMaxAge = 86_400
    /// `BrokerTimeout` in seconds (default 10).
    public var brokerTimeout = 10
    /// `On-BrokerUnavailable`; `nil` means the policy's default (tempfail for
    /// `require`, plaintext for `opportunistic`).
    public var onBrokerUnavailable: MilterConfiguration.FailureAction?
    /// `On-BadSeal` (default reject).
    public var onBadSeal: MilterConfiguration.FailureAction = .reject
    /// `On-NotForUs` (default reject).
    public var onNotForUs: MilterConfiguration.FailureAction = .reject
    /// `On-SpoofedPartner` (default reject): plaintext mail From a `require` partner.
    public var onSpoofedPartner: MilterConfiguration.FailureAction = .reject
    /// `On-ForeignFrom` (default reject): outbound mail for a federated
    /// partner whose From (or Sender) mailboxes are not all in our
    /// certificate's domains, so we would sign for somebody else.
    public var onForeignFrom: MilterConfiguration.FailureAction = .reject
    /// `TrustedAuthservIDs`: other authserv-ids whose Authentication-Results
    /// fields only our own chain may add (removed from mail arriving from
    /// outside, like ours).
    public var trustedAuthservIDs: [String] = []
    /// `StateDirectory`: where the replay cache is kept (survives restarts);
    /// `nil` keeps it in memory only.
    public var stateDirectory: String?
    /// `RecipientDelimiter`: the MTA's address-extension delimiters
    /// (Postfix `recipient_delimiter`), folded for exactly-once delivery:
    /// `bob+news@` is `bob@`. Default `+`; `none` turns it off.
    public var recipientDelimiter = "+"
    /// `PreviousOrgKey` / `PreviousOrgCertificate`: the key (and its
    /// certificate) replaced by a rekey, kept for opening only while mail
    /// sealed to it may still arrive (TokenLifetime + MaxMessageAge).
    public var previousOrgKeyPath: String?
    public var previousOrgCertificatePath: String?
    /// `PreviousOrgKeyGrace` in seconds: how long after the current
    /// certificate's notBefore (the rekey) the previous key still opens
    /// mail. Default: the broker's default TokenLifetime (1 day) plus
    /// ``maxMessageAge`` — a sender's cached token names the old key at most
    /// TokenLifetime after the rekey, and its mail arrives within
    /// MaxMessageAge of being sealed.
    public var previousOrgKeyGraceSetting: Int?
    public var previousOrgKeyGrace: Int { previousOrgKeyGraceSetting ?? 86_400 + maxMessageAge }

    /// The loopback addresses, OpenDKIM's default internal hosts.
    public static let defaultInternalHosts: [IPNetwork] = ["127.0.0.1", "::1"].compactMap { IPNetwork($0) }

    /// Defaults only (no federation configured).
    public init() {}

    /// Reads the federation settings of a parsed file (names already validated).
    ///
    /// - Throws: ``ConfigurationError`` naming the line of the first bad value.
    public init(file: ConfigurationFile) throws(ConfigurationError) {
        if let e = file.entry("Mode") {
            mode = Mode(rawValue: try file.choice(e, of: Mode.allCases.map(\.rawValue))) ?? .both
        }
        if let e = file.entry("Domains") {
            domains = try Self.domainList(e, in: file)
        }
        if let e = file.entry("AuthservID") {
            guard !e.value.isEmpty, e.value.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != ";" && $0 != "(" && $0 != ")" }) else {
                throw file.error(.badValue, at: e, "'AuthservID' must be one token without spaces or ';', not '\(e.value)'")
            }
            authservID = e.value
        }
        if let e = file.entry("InternalHosts") { internalHosts = try file.networks(e) }
        if let e = file.entry("MTA") { mtaNames = file.list(e) }
        orgKeyPath = try file.entry("OrgKey").map { (e) throws(ConfigurationError) in try MilterConfiguration.absolutePath(e, in: file) }
        orgCertificatePath = try file.entry("OrgCertificate").map { (e) throws(ConfigurationError) in try MilterConfiguration.absolutePath(e, in: file) }
        brokerCAPath = try file.entry("BrokerCA").map { (e) throws(ConfigurationError) in try MilterConfiguration.absolutePath(e, in: file) }
        allowlistPath = try file.entry("FederationAllowlist").map { (e) throws(ConfigurationError) in try MilterConfiguration.absolutePath(e, in: file) }
        tokenCacheDirectory = try file.entry("TokenCacheDir").map { (e) throws(ConfigurationError) in try MilterConfiguration.absolutePath(e, in: file) }
        if let e = file.entry("BrokerURL") {
            brokerURL = try Self.httpsURL(e.value, entry: e, in: file)
        }
        var brokerNames: Set<String> = []
        for e in file.entries("Broker") {
            let parts = file.list(e)
            guard parts.count == 2, !parts[0].contains("=") else {
                throw file.error(.badValue, at: e, "'Broker' must be 'Broker NAME https://host:port', not '\(e.value)'")
            }
            guard brokerNames.insert(parts[0].lowercased()).inserted else {
                throw file.error(.duplicateName, at: e, "broker '\(parts[0])' is already defined")
            }
            namedBrokers.append(NamedBroker(name: parts[0], url: try Self.httpsURL(parts[1], entry: e, in: file)))
        }
        if let e = file.entry("MixedRecipients") {
            mixedRecipients = MixedRecipients(rawValue: try file.choice(e, of: MixedRecipients.allCases.map(\.rawValue))) ?? .split
        }
        if let e = file.entry("Reinject") {
            let spec: SocketSpec
            do { spec = try SocketSpec(parsing: e.value) } catch {
                throw file.error(.badValue, at: e, "'Reinject': \(error.message)")
            }
            let usable: Bool
            switch spec {
            case .inet(_, let name), .inet6(_, let name): usable = !(name ?? "").isEmpty
            case .unix(let path): usable = path.hasPrefix("/")
            }
            guard usable else {
                throw file.error(.badValue, at: e, "'Reinject' must be unix:/PATH or inet:PORT@HOST (an SMTP service without milters), not '\(e.value)'")
            }
            reinject = spec
        }
        if let e = file.entry("ProtectSubject") { protectSubject = try file.bool(e) }
        if let e = file.entry("MaxMessageAge") { maxMessageAge = try file.duration(e, in: 60...(365 * 86_400)) }
        if let e = file.entry("BrokerTimeout") { brokerTimeout = try file.duration(e, in: 1...120) }
        if let e = file.entry("CRLRefresh") { crlRefresh = try file.duration(e, in: 1...86_400) }
        if let e = file.entry("CRLMaxAge") {
            crlMaxAge = try file.duration(e, in: 10...(30 * 86_400))
            guard crlMaxAge > crlRefresh else {
                throw file.error(.badValue, at: e, "'CRLMaxAge' (\(crlMaxAge)s) must be longer than 'CRLRefresh' (\(crlRefresh)s)")
            }
        }
        onBrokerUnavailable = try Self.action(file, "On-BrokerUnavailable")
        onBadSeal = try Self.action(file, "On-BadSeal") ?? .reject
        onNotForUs = try Self.action(file, "On-NotForUs") ?? .reject
        onSpoofedPartner = try Self.action(file, "On-SpoofedPartner") ?? .reject
        onForeignFrom = try Self.action(file, "On-ForeignFrom") ?? .reject
        if let e = file.entry("TrustedAuthservIDs") {
            for id in file.list(e) {
                guard id.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != ";" && $0 != "(" && $0 != ")" && $0 != "\"" }) else {
                    throw file.error(.badValue, at: e, "'TrustedAuthservIDs': '\(id)' is not an authserv-id")
                }
                trustedAuthservIDs.append(id)
            }
        }
        if let e = file.entry("RecipientDelimiter") {
            let value = e.value.lowercased() == "none" ? "" : e.value
            guard value.count <= 8, value.allSatisfy({ $0.isASCII && !$0.isLetter && !$0.isNumber && !$0.isWhitespace && $0 != "@" }) else {
                throw file.error(.badValue, at: e, "'RecipientDelimiter' must be punctuation characters such as '+' or '+-', or 'none', not '\(e.value)'")
            }
            recipientDelimiter = value
        }
        if let e = file.entry("PreviousOrgKeyGrace") { previousOrgKeyGraceSetting = try file.duration(e, in: 1...(365 * 86_400)) }
        previousOrgKeyPath = try file.entry("PreviousOrgKey").map { (e) throws(ConfigurationError) in try MilterConfiguration.absolutePath(e, in: file) }
        previousOrgCertificatePath = try file.entry("PreviousOrgCertificate").map { (e) throws(ConfigurationError) in try MilterConfiguration.absolutePath(e, in: file) }
        stateDirectory = try file.entry("StateDirectory").map { (e) throws(ConfigurationError) in try MilterConfiguration.absolutePath(e, in: file) }
    }

    /// The broker URL for an allowlist `broker=` name (`nil`: the default broker).
    public func brokerURL(named name: String?) -> String? {
        guard let name else { return brokerURL }
        return namedBrokers.first { $0.name.lowercased() == name.lowercased() }?.url
    }

    /// The direction settings.
    public var directionPolicy: DirectionPolicy {
        DirectionPolicy(internalHosts: internalHosts, mtaNames: Set(mtaNames), localDomains: Set(domains))
    }

    static func action(_ file: ConfigurationFile, _ name: String) throws(ConfigurationError) -> MilterConfiguration.FailureAction? {
        guard let e = file.entry(name) else { return nil }
        return MilterConfiguration.FailureAction(rawValue: try file.choice(e, of: MilterConfiguration.FailureAction.allCases.map(\.rawValue)))
    }

    static func domainList(_ entry: ConfigurationEntry, in file: ConfigurationFile) throws(ConfigurationError) -> [DomainName] {
        var result: [DomainName] = []
        for item in file.list(entry) {
            guard let domain = DomainName(item) else {
                throw file.error(.badValue, at: entry, "'\(entry.name)': '\(item)' is not a valid domain")
            }
            if !result.contains(domain) { result.append(domain) }
        }
        return result
    }

    static func httpsURL(_ text: String, entry: ConfigurationEntry, in file: ConfigurationFile) throws(ConfigurationError) -> String {
        let lower = text.lowercased()
        guard lower.hasPrefix("https://"), text.count > 8, !text.contains(where: { $0.isWhitespace }) else {
            throw file.error(.badValue, at: entry, "'\(entry.name)': '\(text)' is not an https:// URL")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }
}
