import FedMailCore
import Foundation
import Logging

/// The broker's configuration file, in the same OpenDKIM style as the milter's.
///
/// ```
/// Listen                127.0.0.1:8443
/// StateDir              /var/lib/fedmail-broker
/// Database              sqlite:/var/lib/fedmail-broker/broker.db   # or postgres://user@host/db
/// ServerName            broker.example, localhost, 127.0.0.1
/// BrokerName            FedMail Broker
/// KeyContainerLifetime  24h
/// TokenLifetime         24h
/// CertificateLifetime   30d
/// LogLevel              info
/// UMask                 027
/// MetricsFromAnywhere   no
/// UserID                fedmail           # when started as root
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
    public var logLevel: Logger.Level = .info
    public var umask: UInt16 = 0o027
    /// Whether `/metrics` answers non-loopback clients.
    public var metricsFromAnywhere = false
    /// `user[:group]` to switch to once the socket is bound (when started as root).
    public var userID: String?

    /// The database location in effect.
    public var database: String {
        databaseSetting ?? "sqlite:\(stateDirectory)/broker.db"
    }

    public static let knownNames: Set<String> = [
        "Listen", "StateDir", "Database", "ServerName", "BrokerName", "KeyContainerLifetime",
        "TokenLifetime", "CertificateLifetime", "LogLevel", "UMask", "MetricsFromAnywhere", "UserID",
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
                throw file.error(.badValue, at: entry, "'Database' must be sqlite:/absolute/path or postgres://user@host:port/database, not '\(value)'")
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
        if let entry = file.entry("LogLevel") {
            let level = try file.choice(entry, of: ["error", "warning", "notice", "info", "debug"])
            logLevel = Logger.Level(rawValue: level) ?? .info
        }
        if let entry = file.entry("UMask") { umask = try file.umask(entry) }
        if let entry = file.entry("MetricsFromAnywhere") { metricsFromAnywhere = try file.bool(entry) }
        if let entry = file.entry("UserID") {
            let user = entry.value.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            guard getpwnam(user) != nil else {
                throw file.error(.badValue, at: entry, "'UserID' names no user '\(user)' on this system")
            }
            userID = entry.value
        }
    }

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

    static func parseListen(_ value: String) -> (String, Int)? {
        let host: Substring
        let portText: Substring
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]"), value[value.index(after: close)...].hasPrefix(":") else { return nil }
            host = value[value.index(after: value.startIndex)..<close]
            portText = value[value.index(close, offsetBy: 2)...]
        } else {
            guard let colon = value.lastIndex(of: ":") else { return nil }
            host = value[..<colon]
            portText = value[value.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65_535).contains(port) else { return nil }
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
