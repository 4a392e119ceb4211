import BrokerStore
import FedMailCore
import SystemIO
import Foundation
import Logging

/// The broker's configuration file, in the same OpenDKIM style as the milter's.
///
/// ```
/// Listen                127.0.0.1:8443
/// StateDir              /var/lib/fedmail-broker
/// Database              sqlite:/var/lib/fedmail-broker/broker.db   # or postgres://user@host/db[?sslmode=verify-full&sslrootcert=/ca.pem]
/// ServerName            broker.example, localhost, 127.0.0.1
/// BrokerName            FedMail Broker
/// KeyContainerLifetime  24h
/// TokenLifetime         24h
/// CertificateLifetime   30d
/// CRLValidity           24h               # nextUpdate - thisUpdate of the CRL
/// CRLURL                https://broker.example:8443/v1/crl   # default: first ServerName and the Listen port
/// LogLevel              info
/// UMask                 027
/// MetricsFromAnywhere   no
/// UserID                fedmail           # when started as root
/// DNSValidation         yes               # domain control validation before approval
/// DNSResolver           127.0.0.1:53      # default: first nameserver of /etc/resolv.conf
/// DNSTimeout            5s
/// EnrollmentRateLimit   30/h              # POST /v1/enrollments per source address
/// StatusRateLimit       120/min           # GET /v1/enrollments/ID and /v1/ca per source address
/// MaxPendingEnrollments 1000
/// MaxPendingPerSource   20
/// IdleTimeout           30s               # a connection without a request part (TLS handshake included) is closed
/// RequestTimeout        30s               # a request not read whole this long after its head closes its connection
/// MaxConnections        4096              # open at once; more wait in the listen backlog (0: no cap)
/// MaxConnectionsPerSource 32              # open at once from one IPv4 address or IPv6 /64, 4x from its /24 or /48 (0: no cap)
/// ```
public struct BrokerConfiguration: Sendable, Hashable {
    /// Host (IPv4/IPv6 literal or name) and port to listen on.
    public var listenHost: String = "127.0.0.1"
    public var listenPort: Int = 8443
    /// Where the CA and token-signing keys and certificates live (and the SQLite file by default).
    public var stateDirectory: String = "/var/lib/fedmail-broker"
    /// `sqlite:/path` or `postgres://…`; nil means `sqlite:<StateDir>/broker.db`.
    public var databaseSetting: String?
    /// Names and addresses in the broker's TLS server certificate.
    public var serverNames: [String] = ["localhost", "127.0.0.1"]
    /// The broker's name: CA subject and token `iss`.
    public var brokerName: String = "FedMail Broker"
    /// Lifetime of key containers (seconds).
    public var keyContainerLifetime: Int = 86_400
    /// Lifetime of federation tokens (seconds).
    public var tokenLifetime: Int = 86_400
    /// Lifetime of organization certificates (seconds).
    public var certificateLifetime: Int = 30 * 86_400
    /// How long each CRL is valid (`CRLValidity`, seconds): its nextUpdate is
    /// thisUpdate plus this. The broker signs a fresh CRL whenever the list
    /// changes and at most every ``CRLIssuer/reuseInterval`` seconds otherwise,
    /// so gateways (`CRLRefresh`, `CRLMaxAge`) see a recent thisUpdate.
    public var crlValidity: Int = 86_400
    /// `CRLURL`: the URI in the cRLDistributionPoints extension of every
    /// certificate the broker issues; nil means ``crlDistributionPointURL``'s default.
    public var crlURLSetting: String?
    public var logLevel: Logger.Level = .info
    public var umask: UInt16 = 0o027
    /// Whether `/metrics` answers non-loopback clients.
    public var metricsFromAnywhere = false
    /// `user[:group]` to switch to once the socket is bound (when started as root).
    public var userID: String?
    /// Whether approving an enrollment needs every domain's `_fedmail-challenge` TXT record
    /// (an operator may still skip it per enrollment, audited).
    public var dnsValidation = true
    /// The resolver the challenges are checked through; nil means the system's
    /// (the first nameserver of /etc/resolv.conf).
    public var dnsResolver: DNSServerAddress?
    /// The budget of one TXT lookup (seconds).
    public var dnsTimeout: Int = 5
    /// Token bucket per source address for `POST /v1/enrollments`; nil means unlimited.
    public var enrollmentRateLimit: RateLimit? = RateLimit(count: 30, period: 3_600)
    /// Token bucket per source address for `GET /v1/enrollments/{id}` and `GET /v1/ca`; nil means unlimited.
    public var statusRateLimit: RateLimit? = RateLimit(count: 120, period: 60)
    /// The most enrollments pending at once, over all sources (0: no cap).
    public var maxPendingEnrollments: Int = 1_000
    /// The most enrollments pending at once from one source address (0: no cap).
    public var maxPendingPerSource: Int = 20
    /// `IdleTimeout`, `RequestTimeout`, `MaxConnections`, `MaxConnectionsPerSource`.
    public var connectionLimits = ConnectionLimits()

    /// The CRL distribution point in effect: `CRLURL`, else
    /// `https://<first ServerName>:<Listen port>/v1/crl`.
    public var crlDistributionPointURL: String {
        if let crlURLSetting { return crlURLSetting }
        let host = serverNames.first ?? listenHost
        return "https://\(host.contains(":") ? "[\(host)]" : host):\(listenPort)/v1/crl"
    }

    /// The database location in effect.
    public var database: String {
        databaseSetting ?? "sqlite:\(stateDirectory)/broker.db"
    }

    public static let knownNames: Set<String> = [
        "Listen", "StateDir", "Database", "ServerName", "BrokerName", "KeyContainerLifetime",
        "TokenLifetime", "CertificateLifetime", "LogLevel", "UMask", "MetricsFromAnywhere", "UserID",
        "DNSValidation", "DNSResolver", "DNSTimeout", "EnrollmentRateLimit", "StatusRateLimit",
        "MaxPendingEnrollments", "MaxPendingPerSource", "IdleTimeout", "RequestTimeout", "MaxConnections", "MaxConnectionsPerSource",
        "CRLValidity", "CRLURL",
    ]

    public init() {}

    /// Parses configuration text; every mistake is a ``ConfigurationError`` naming the line.
    public init(parsing text: String, path: String) throws(ConfigurationError) {
        let file = try ConfigurationFile(parsing: text, path: path)
        try file.validate(knownNames: Self.knownNames, repeatableNames: ["ServerName"])
        if let entry = file.entry("Listen") {
            guard let (host, port) = Self.parseListen(entry.value) else {
                throw file.error(.badValue, at: entry, "'Listen' must be HOST:PORT such as 127.0.0.1:8443 or [::1]:8443, not '\(entry.value)'")
            }
            listenHost = host
            listenPort = port
        }
        if let entry = file.entry("StateDir") {
            guard entry.value.hasPrefix("/") else {
                throw file.error(.badValue, at: entry, "'StateDir' must be an absolute path")
            }
            stateDirectory = entry.value
        }
        if let entry = file.entry("Database") {
            let value = entry.value
            let isSQLite = value.hasPrefix("sqlite:/")
            let isPostgres = value.hasPrefix("postgres://") || value.hasPrefix("postgresql://")
            guard isSQLite || isPostgres else {
                throw file.error(.badValue, at: entry, "'Database' must be sqlite:/absolute/path or postgres://user@host:port/database, not '\(SQLBrokerStore.redacted(location: value))'")
            }
            if isPostgres, URLComponents(string: value)?.host == nil, !value.contains("host=/") {
                throw file.error(.badValue, at: entry, "'Database' postgres URL is malformed or names no host")
            }
            databaseSetting = value
        }
        var names: [String] = []
        for entry in file.entries("ServerName") {
            for name in file.list(entry) {
                guard Self.isValidServerName(name) else {
                    throw file.error(.badValue, at: entry, "'ServerName' '\(name)' is neither a host name nor an IP address")
                }
                names.append(name)
            }
        }
        if !names.isEmpty { serverNames = names }
        if let entry = file.entry("BrokerName") { brokerName = entry.value }
        if let entry = file.entry("KeyContainerLifetime") { keyContainerLifetime = try file.duration(entry, in: 60...(30 * 86_400)) }
        if let entry = file.entry("TokenLifetime") { tokenLifetime = try file.duration(entry, in: 60...(30 * 86_400)) }
        if let entry = file.entry("CertificateLifetime") { certificateLifetime = try file.duration(entry, in: 86_400...(10 * 365 * 86_400)) }
        if let entry = file.entry("CRLValidity") { crlValidity = try file.duration(entry, in: 3600...(30 * 86_400)) }
        if let entry = file.entry("CRLURL") {
            guard let url = URLComponents(string: entry.value), url.scheme == "https" || url.scheme == "http", url.host?.isEmpty == false,
                  entry.value.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
                throw file.error(.badValue, at: entry, "'CRLURL' must be an http(s) URL such as https://broker.example:8443/v1/crl, not '\(entry.value)'")
            }
            crlURLSetting = entry.value
        }
        if let entry = file.entry("LogLevel") {
            let level = try file.choice(entry, of: ["error", "warning", "notice", "info", "debug"])
            logLevel = Logger.Level(rawValue: level) ?? .info
        }
        if let entry = file.entry("UMask") { umask = try file.umask(entry) }
        if let entry = file.entry("MetricsFromAnywhere") { metricsFromAnywhere = try file.bool(entry) }
        if let entry = file.entry("UserID") {
            do { _ = try ProcessUser(resolvingSpec: entry.value) } catch {
                throw file.error(.badValue, at: entry, "'UserID' \(error.message) on this system")
            }
            userID = entry.value
        }
        if let entry = file.entry("DNSValidation") { dnsValidation = try file.bool(entry) }
        if let entry = file.entry("DNSResolver") {
            guard let address = DNSServerAddress(parsing: entry.value) else {
                throw file.error(.badValue, at: entry, "'DNSResolver' must be a numeric address with an optional port, such as 127.0.0.1:5353 or [::1]:53, not '\(entry.value)'")
            }
            dnsResolver = address
        }
        if let entry = file.entry("DNSTimeout") { dnsTimeout = try file.duration(entry, in: 1...60) }
        for (name, keyPath) in [("EnrollmentRateLimit", \BrokerConfiguration.enrollmentRateLimit),
                                ("StatusRateLimit", \BrokerConfiguration.statusRateLimit)] {
            guard let entry = file.entry(name) else { continue }
            if entry.value.lowercased() == "off" {
                self[keyPath: keyPath] = nil
            } else if let limit = RateLimit(parsing: entry.value) {
                self[keyPath: keyPath] = limit
            } else {
                throw file.error(.badValue, at: entry, "'\(name)' must be COUNT/PERIOD (PERIOD s, min or h) such as 30/h, or off, not '\(entry.value)'")
            }
        }
        if let entry = file.entry("MaxPendingEnrollments") { maxPendingEnrollments = try file.integer(entry, in: 0...10_000_000) }
        if let entry = file.entry("MaxPendingPerSource") { maxPendingPerSource = try file.integer(entry, in: 0...10_000_000) }
        if let entry = file.entry("IdleTimeout") { connectionLimits.idleTimeout = try file.duration(entry, in: 1...3_600) }
        if let entry = file.entry("RequestTimeout") { connectionLimits.requestTimeout = try file.duration(entry, in: 1...3_600) }
        if let entry = file.entry("MaxConnections") { connectionLimits.maxConnections = try file.integer(entry, in: 0...1_000_000) }
        if let entry = file.entry("MaxConnectionsPerSource") { connectionLimits.maxPerSource = try file.integer(entry, in: 0...1_000_000) }
    }

    /// The resolver in effect.
    public var effectiveDNSResolver: DNSServerAddress { dnsResolver ?? DNSServerAddress.system() }

    /// Reads and parses `path`.
    public static func load(path: String) throws(ConfigurationError) -> BrokerConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(code: .unreadable, file: path, line: nil, message: "cannot read: \(error.localizedDescription)")
        }
        return try BrokerConfiguration(parsing: text, path: path)
    }

    /// `HOST:PORT` (`[v6]:PORT`), port 0 allowed (any free port, for tests).
    static func parseListen(_ value: String) -> (String, Int)? {
        guard case .hostAndPort(let host, let portText) = HostPortSyntax.split(value[...]), !host.isEmpty,
              let port = HostPortSyntax.port(portText, allowZero: true) else { return nil }
        return (String(host), port)
    }

    static func isValidServerName(_ name: String) -> Bool {
        if IPAddressBytes.parse(name) != nil { return true }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && name.count <= 253 && labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}

/// IP address literals as the bytes an X.509 iPAddress name holds.
enum IPAddressBytes {
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

extension BrokerConfiguration {
    /// Parses a `HOST:PORT` listen address (`[v6]:port` for IPv6).
    public static func parseListenValue(_ value: String) -> (String, Int)? {
        parseListen(value)
    }
}
