/// What a gateway does with mail for a partner domain.
public enum FederationPolicy: String, Sendable, Hashable, CaseIterable {
    /// Seal or do not send: tempfail while no token can be had, never plaintext.
    /// Inbound, plaintext mail claiming this domain in From is refused.
    case require
    /// Seal when a token is available; otherwise deliver in plaintext and say so.
    case opportunistic
    /// Traditional delivery, never sealed.
    case never
}

/// How the content key reaches the partner (see DESIGN.md "Modes").
public enum FederationMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// Wrapped to the recipient organization's key from the key container.
    case direct
    /// Wrapped with a broker-generated proof-of-possession key.
    case pop
}

/// Which of a partner's control flags this gateway honors inbound.
public struct FederationTrust: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The partner's virus scan verdict.
    public static let virusScan = FederationTrust(rawValue: 1 << 0)
    /// The partner's spam verdict.
    public static let spamScan = FederationTrust(rawValue: 1 << 1)

    /// The names used in the allowlist's `trust=` option.
    public static let names: [(String, FederationTrust)] = [("virus-scan", .virusScan), ("spam-scan", .spamScan)]
}

/// A domain or `*.domain` wildcard in the allowlist.
public enum DomainPattern: Sendable, Hashable, CustomStringConvertible {
    /// Exactly this domain.
    case exact(DomainName)
    /// Any subdomain of this domain (not the domain itself).
    case subdomains(of: DomainName)

    public func matches(_ domain: DomainName) -> Bool {
        switch self {
        case .exact(let name): return domain == name
        case .subdomains(let parent): return domain != parent && domain.isSubdomain(of: parent)
        }
    }

    public var description: String {
        switch self {
        case .exact(let name): return name.value
        case .subdomains(let parent): return "*." + parent.value
        }
    }
}

/// One line of the federation allowlist.
public struct FederationAllowlistEntry: Sendable, Hashable {
    public var pattern: DomainPattern
    public var policy: FederationPolicy
    /// `trust=`: the partner's control flags honored inbound (default none).
    public var trust: FederationTrust
    /// `mode=` (default `direct`).
    public var mode: FederationMode
    /// `broker=`: a named broker; `nil` means the default broker.
    public var broker: String?
    /// `cert=`: a static partner certificate file (absolute, or resolved
    /// against the allowlist's directory): mail to the domain is sealed to
    /// it without a broker or token, and sealed mail from the domain signed
    /// with exactly this certificate is accepted without a token.
    public var certificatePath: String?
    /// The line it was read from.
    public var line: Int

    public init(pattern: DomainPattern, policy: FederationPolicy, trust: FederationTrust = [],
                mode: FederationMode = .direct, broker: String? = nil, certificatePath: String? = nil, line: Int) {
        self.pattern = pattern
        self.policy = policy
        self.trust = trust
        self.mode = mode
        self.broker = broker
        self.certificatePath = certificatePath
        self.line = line
    }
}

/// The `FederationAllowlist` file: which partner domains are federated and how.
///
/// ```
/// # domain              policy          options
/// partner.example       require         trust=virus-scan,spam-scan
/// *.subsidiary.example  opportunistic
/// legacy.example        never
/// other.example         require         mode=pop broker=eu
/// ```
///
/// Domains compare case-insensitively in A-label form. An exact entry beats
/// any wildcard; among wildcards the longest (most specific) wins. Unlisted
/// domains get traditional delivery. A malformed line is an error naming
/// its line, never silently skipped.
public struct FederationAllowlist: Sendable {
    /// The entries in file order.
    public private(set) var entries: [FederationAllowlistEntry]
    private var exact: [DomainName: FederationAllowlistEntry]
    private var wildcards: [FederationAllowlistEntry]

    /// An allowlist with no entries: every domain gets traditional delivery.
    public static let empty = FederationAllowlist(validated: [])

    /// Parses allowlist text.
    /// - Throws: ``ConfigurationError`` naming `path` and the offending line.
    public init(parsing text: String, path: String) throws(ConfigurationError) {
        var entries: [FederationAllowlistEntry] = []
        var seen: [DomainPattern: Int] = [:]
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            var line = rawLine
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.isEmpty { continue }
            func fail(_ message: String) -> ConfigurationError {
                ConfigurationError(code: .badValue, file: path, line: lineNumber, message: message)
            }
            guard fields.count >= 2 else {
                throw fail("'\(fields[0])' needs a policy: require, opportunistic or never")
            }
            let pattern = try Self.pattern(fields[0], fail: fail)
            guard let policy = FederationPolicy(rawValue: fields[1].lowercased()) else {
                throw fail("unknown policy '\(fields[1])': use require, opportunistic or never")
            }
            var entry = FederationAllowlistEntry(pattern: pattern, policy: policy, line: lineNumber)
            var optionsSeen: Set<String> = []
            for option in fields.dropFirst(2) {
                guard let equals = option.firstIndex(of: "="), equals != option.startIndex else {
                    throw fail("option '\(option)' must be name=value (trust=, mode=, broker=, cert=)")
                }
                let name = option[..<equals].lowercased()
                let value = option[option.index(after: equals)...]
                guard !value.isEmpty else { throw fail("option '\(name)=' needs a value") }
                guard optionsSeen.insert(name).inserted else { throw fail("option '\(name)' given twice") }
                switch name {
                case "trust":
                    for item in value.split(separator: ",") {
                        guard let flag = FederationTrust.names.first(where: { $0.0 == item.lowercased() })?.1 else {
                            throw fail("unknown trust flag '\(item)': use virus-scan, spam-scan")
                        }
                        entry.trust.insert(flag)
                    }
                case "mode":
                    guard let mode = FederationMode(rawValue: value.lowercased()) else {
                        throw fail("unknown mode '\(value)': use direct or pop")
                    }
                    entry.mode = mode
                case "broker":
                    entry.broker = String(value)
                case "cert":
                    // Relative to the allowlist's directory, as an operator reads it.
                    if value.hasPrefix("/") {
                        entry.certificatePath = String(value)
                    } else {
                        let slash = path.lastIndex(of: "/")
                        let directory = slash.map { String(path[..<$0]) } ?? "."
                        entry.certificatePath = (directory.isEmpty ? "" : directory) + "/" + value
                    }
                default:
                    throw fail("unknown option '\(name)': use trust=, mode=, broker= or cert=")
                }
            }
            if entry.policy == .never, entry.mode != .direct || entry.broker != nil || entry.certificatePath != nil {
                throw fail("policy 'never' takes no mode=, broker= or cert= option")
            }
            if entry.certificatePath != nil, entry.mode != .direct || entry.broker != nil {
                throw fail("cert= (a static partner certificate, no broker) takes no mode= or broker= option")
            }
            if let first = seen[pattern] {
                throw fail("'\(pattern)' is already listed on line \(first)")
            }
            seen[pattern] = lineNumber
            entries.append(entry)
        }
        self.init(validated: entries)
    }

    private init(validated entries: [FederationAllowlistEntry]) {
        self.entries = entries
        var exact: [DomainName: FederationAllowlistEntry] = [:]
        var wildcards: [FederationAllowlistEntry] = []
        for entry in entries {
            switch entry.pattern {
            case .exact(let name): exact[name] = entry
            case .subdomains: wildcards.append(entry)
            }
        }
        // Most specific wildcard first.
        wildcards.sort { $0.pattern.description.count > $1.pattern.description.count }
        self.exact = exact
        self.wildcards = wildcards
    }

    /// The entry that governs `domain`: the exact entry if there is one,
    /// else the most specific matching wildcard, else `nil` (unlisted).
    public func entry(for domain: DomainName) -> FederationAllowlistEntry? {
        if let entry = exact[domain] { return entry }
        return wildcards.first(where: { $0.pattern.matches(domain) })
    }

    private static func pattern(_ field: Substring, fail: (String) -> ConfigurationError) throws(ConfigurationError) -> DomainPattern {
        if field.hasPrefix("*.") {
            guard let parent = DomainName(field.dropFirst(2)), !field.dropFirst(2).contains("*") else {
                throw fail("'\(field)' is not a valid wildcard domain")
            }
            return .subdomains(of: parent)
        }
        guard !field.contains("*"), let name = DomainName(mailDomain: field) else {
            throw fail("'\(field)' is not a valid domain (a wildcard is written *.example.org)")
        }
        return .exact(name)
    }
}
