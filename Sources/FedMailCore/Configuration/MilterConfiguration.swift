/// The settings of `fedmail-milter`, read from its OpenDKIM-style
/// configuration file. Pure: built from a parsed ``ConfigurationFile``;
/// reading the file and acting on the settings is the daemon's job.
public struct MilterConfiguration: Sendable, Hashable {
    /// Log levels, from least to most verbose.
    public enum LogLevel: String, Sendable, Hashable, CaseIterable, Comparable {
        case error, warning, notice, info, debug

        public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    /// What the milter tells the MTA when it fails internally.
    public enum FailureAction: String, Sendable, Hashable, CaseIterable {
        case accept, reject, tempfail
        /// Accept, but hold the message in the MTA's quarantine (`smfi_quarantine`).
        case quarantine
    }

    /// `UserID user[:group]`.
    public struct UserSpec: Sendable, Hashable, CustomStringConvertible {
        public var user: String
        public var group: String?
        public init(user: String, group: String?) {
            self.user = user
            self.group = group
        }
        public var description: String { group.map { "\(user):\($0)" } ?? user }
    }

    /// The default configuration file.
    public static let defaultPath = "/etc/fedmail/fedmail-milter.conf"

    /// Every name this version understands, as documented.
    public static let knownNames: [String] = [
        "Socket", "PidFile", "UserID", "UMask", "Background", "Syslog", "SyslogFacility",
        "LogLevel", "TemporaryDirectory", "BodySpoolThreshold", "On-InternalError",
        "MetricsListen", "MetricsFromAnywhere",
    ] + MilterFederationSettings.knownNames + MilterScanSettings.knownNames

    /// Syslog facilities accepted by `SyslogFacility`.
    public static let syslogFacilities = [
        "mail", "daemon", "user", "local0", "local1", "local2", "local3",
        "local4", "local5", "local6", "local7",
    ]

    /// Where to listen (`Socket`, required).
    public var socket: SocketSpec
    /// The pid file to write (`PidFile`).
    public var pidFile: String?
    /// The user (and group) to run as after start-up (`UserID`).
    public var userID: UserSpec?
    /// The file-creation mask (`UMask`).
    public var umask: UInt16?
    /// Detach from the terminal (`Background`, default yes; `-f` overrides).
    public var background: Bool
    /// Log to syslog (`Syslog`, default yes).
    public var syslog: Bool
    /// The syslog facility (`SyslogFacility`, default mail).
    public var syslogFacility: String
    /// The most verbose level logged (`LogLevel`, default info).
    public var logLevel: LogLevel
    /// Where the private spool directory is created (`TemporaryDirectory`, default /tmp).
    public var temporaryDirectory: String
    /// Body bytes kept in memory before spooling to a file (`BodySpoolThreshold`, default 1m).
    public var bodySpoolThreshold: Int
    /// The answer to the MTA on an internal error (`On-InternalError`, default tempfail).
    public var onInternalError: FailureAction
    /// Where Prometheus metrics are served (`MetricsListen`; nil: nowhere,
    /// the default). Loopback unless `MetricsFromAnywhere yes`.
    public var metricsListen: MetricsListen?
    /// Whether `MetricsListen` may name a non-loopback address (`MetricsFromAnywhere`, default no).
    public var metricsFromAnywhere: Bool
    /// The federation settings (`Mode`, `Domains`, keys, brokers, allowlist, `On-*` actions).
    public var federation: MilterFederationSettings
    /// The scanning settings (`ClamdSocket`, `On-Infected`, trusted and added header fields).
    public var scanning: MilterScanSettings

    /// Reads the settings of a parsed configuration file.
    ///
    /// - Throws: ``ConfigurationError`` naming the file and line of the first
    ///   unknown name, repeated name, bad value, or a missing `Socket`.
    public init(file: ConfigurationFile) throws(ConfigurationError) {
        try file.validate(knownNames: Set(Self.knownNames), repeatableNames: MilterFederationSettings.repeatableNames)
        guard let socketEntry = file.entry("Socket") else {
            throw file.error(.missingName, "'Socket' is required (for example 'Socket local:/run/fedmail/milter.sock')")
        }
        do {
            socket = try SocketSpec(parsing: socketEntry.value)
        } catch {
            throw file.error(.badValue, at: socketEntry, "'Socket': \(error.message)")
        }
        if let entry = file.entry("PidFile") {
            pidFile = try Self.absolutePath(entry, in: file)
        }
        if let entry = file.entry("UserID") {
            userID = try Self.userSpec(entry, in: file)
        }
        if let entry = file.entry("UMask") {
            umask = try file.umask(entry)
        }
        background = try file.entry("Background").map { (e) throws(ConfigurationError) in try file.bool(e) } ?? true
        syslog = try file.entry("Syslog").map { (e) throws(ConfigurationError) in try file.bool(e) } ?? true
        syslogFacility = try file.entry("SyslogFacility").map { (e) throws(ConfigurationError) in
            try file.choice(e, of: Self.syslogFacilities)
        } ?? "mail"
        logLevel = try file.entry("LogLevel").map { (e) throws(ConfigurationError) in
            LogLevel(rawValue: try file.choice(e, of: LogLevel.allCases.map(\.rawValue))) ?? .info
        } ?? .info
        temporaryDirectory = try file.entry("TemporaryDirectory").map { (e) throws(ConfigurationError) in
            try Self.absolutePath(e, in: file)
        } ?? "/tmp"
        bodySpoolThreshold = try file.entry("BodySpoolThreshold").map { (e) throws(ConfigurationError) in
            try Self.size(e, in: file, maximum: 1 << 30)
        } ?? (1 << 20)
        onInternalError = try file.entry("On-InternalError").map { (e) throws(ConfigurationError) in
            FailureAction(rawValue: try file.choice(e, of: FailureAction.allCases.map(\.rawValue))) ?? .tempfail
        } ?? .tempfail
        metricsFromAnywhere = try file.entry("MetricsFromAnywhere").map { (e) throws(ConfigurationError) in try file.bool(e) } ?? false
        if let entry = file.entry("MetricsListen") {
            do { metricsListen = try MetricsListen.parse(entry.value) } catch {
                throw file.error(.badValue, at: entry, "'MetricsListen' \(error.message)")
            }
            if let listen = metricsListen, !listen.isLoopback, !metricsFromAnywhere {
                throw file.error(.badValue, at: entry, """
                    'MetricsListen' \(listen) is not a loopback address; /metrics has no authentication, \
                    so set 'MetricsFromAnywhere yes' to serve it there (or use 127.0.0.1:\(listen.port))
                    """)
            }
        }
        federation = try MilterFederationSettings(file: file)
        scanning = try MilterScanSettings(file: file)
    }

    /// Parses configuration text (convenience for ``init(file:)``).
    public init(parsing text: String, path: String) throws(ConfigurationError) {
        try self.init(file: ConfigurationFile(parsing: text, path: path))
    }

    /// The names of settings whose change needs a restart, because they
    /// concern the socket, identity or process set up at start.
    public func settingsNeedingRestart(comparedTo other: MilterConfiguration) -> [String] {
        var names: [String] = []
        if socket != other.socket { names.append("Socket") }
        if pidFile != other.pidFile { names.append("PidFile") }
        if userID != other.userID { names.append("UserID") }
        if umask != other.umask { names.append("UMask") }
        if background != other.background { names.append("Background") }
        if syslog != other.syslog { names.append("Syslog") }
        if syslogFacility != other.syslogFacility { names.append("SyslogFacility") }
        if temporaryDirectory != other.temporaryDirectory { names.append("TemporaryDirectory") }
        if bodySpoolThreshold != other.bodySpoolThreshold { names.append("BodySpoolThreshold") }
        if metricsListen != other.metricsListen { names.append("MetricsListen") }
        return names
    }

    static func absolutePath(_ entry: ConfigurationEntry, in file: ConfigurationFile) throws(ConfigurationError) -> String {
        guard entry.value.hasPrefix("/"), !entry.value.contains(where: { $0 == " " || $0 == "\t" }) else {
            throw file.error(.badValue, at: entry, "'\(entry.name)' must be an absolute path without spaces, not '\(entry.value)'")
        }
        return entry.value
    }

    static func userSpec(_ entry: ConfigurationEntry, in file: ConfigurationFile) throws(ConfigurationError) -> UserSpec {
        let parts = entry.value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let valid: (String) -> Bool = { name in
            !name.isEmpty && name.count <= 32 && !name.hasPrefix("-")
                && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.$".contains($0)) }
        }
        guard (1...2).contains(parts.count), parts.allSatisfy(valid) else {
            throw file.error(.badValue, at: entry, "'\(entry.name)' must be user or user:group, not '\(entry.value)'")
        }
        return UserSpec(user: parts[0], group: parts.count == 2 ? parts[1] : nil)
    }

    /// A byte count with an optional `k` or `m` suffix (1024-based).
    static func size(_ entry: ConfigurationEntry, in file: ConfigurationFile, maximum: Int) throws(ConfigurationError) -> Int {
        var digits = Substring(entry.value.lowercased())
        var multiplier = 1
        if digits.last == "k" { multiplier = 1 << 10; digits = digits.dropLast() }
        else if digits.last == "m" { multiplier = 1 << 20; digits = digits.dropLast() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.count <= 10,
              let number = Int(digits), number <= maximum / multiplier else {
            throw file.error(.badValue, at: entry,
                             "'\(entry.name)' must be a size in bytes like 1048576, 512k or 1m, at most 1024m, not '\(entry.value)'")
        }
        return number * multiplier
    }
}
