/// What `fedmailctl doctor` reads of a Postfix configuration, through
/// `postconf`: the main.cf values it checks (expanded, `postconf -xh`) and,
/// per master.cf service, its command, chroot flag and `-o` overrides
/// (`postconf -F`, `postconf -P`). Pure: the probe runs postconf and hands
/// its output to ``init(mainValues:fields:overrides:)``.
public struct PostfixSettings: Sendable, Hashable {
    /// A master.cf service (`NAME/TYPE`).
    public struct Service: Sendable, Hashable {
        /// `NAME/TYPE`, e.g. `smtp/inet`, `127.0.0.1:10026/inet`.
        public var name: String
        /// The program (first word of the command), e.g. `smtpd`.
        public var command: String
        /// Whether it runs chrooted to the queue directory.
        public var chroot: Bool
        /// Its `-o name=value` overrides, lower-case names.
        public var overrides: [String: String]

        public init(name: String, command: String, chroot: Bool, overrides: [String: String] = [:]) {
            self.name = name
            self.command = command
            self.chroot = chroot
            self.overrides = overrides
        }

        /// The value of a main.cf parameter for this service: its override, else main.cf's.
        public func value(_ parameter: String, main: [String: String]) -> String? {
            overrides[parameter] ?? main[parameter]
        }
    }

    /// main.cf parameters (`smtpd_milters`, `non_smtpd_milters`, `milter_default_action`, `queue_directory`).
    public var main: [String: String]
    /// The master.cf services.
    public var services: [Service]

    public init(main: [String: String], services: [Service]) {
        self.main = main
        self.services = services
    }

    /// The parameters the probe asks `postconf -xh` for, in order.
    public static let parameters = ["smtpd_milters", "non_smtpd_milters", "milter_default_action", "queue_directory"]

    /// Builds the settings from postconf's outputs: `main` the lines of
    /// `postconf -xh` for ``parameters`` (one value a line, in order),
    /// `fields` those of `postconf -F` (`smtp/inet/chroot = y`), and
    /// `overrides` those of `postconf -P` (`smtp/inet/smtpd_milters = ...`).
    public init(mainValues: [String], fields: [String], overrides: [String]) {
        var main: [String: String] = [:]
        for (name, value) in zip(Self.parameters, mainValues) { main[name] = String(value.trimmingWhitespace()) }
        var commands: [String: String] = [:]
        var chroots: [String: Bool] = [:]
        var order: [String] = []
        var seen: Set<String> = []
        var extra: [String: [String: String]] = [:]
        for line in fields {
            guard let (service, field, value) = Self.serviceLine(line) else { continue }
            if seen.insert(service).inserted { order.append(service) }
            switch field {
            case "command": commands[service] = value.split(separator: " ").first.map(String.init) ?? value
            case "chroot": chroots[service] = value.lowercased() == "y"
            default: break
            }
        }
        for line in overrides {
            guard let (service, parameter, value) = Self.serviceLine(line) else { continue }
            extra[service, default: [:]][parameter.lowercased()] = value
        }
        self.init(main: main, services: order.map {
            Service(name: $0, command: commands[$0] ?? "", chroot: chroots[$0] ?? false, overrides: extra[$0] ?? [:])
        })
    }

    /// `NAME/TYPE/FIELD = VALUE` split into `NAME/TYPE`, `FIELD`, `VALUE`
    /// (a service name may contain `:` and `.`, never `/`).
    static func serviceLine(_ line: String) -> (String, String, String)? {
        guard let equals = line.firstRange(of: " = ") ?? line.firstRange(of: "=") else { return nil }
        let key = line[..<equals.lowerBound].trimmingWhitespace()
        let value = String(line[equals.upperBound...].trimmingWhitespace())
        guard let last = key.lastIndex(of: "/") else { return nil }
        let service = String(key[..<last])
        guard service.contains("/") else { return nil }
        return (service, String(key[key.index(after: last)...]), value)
    }

    /// The chroot directory of `service` (the queue directory), nil when not chrooted.
    public func chrootDirectory(_ service: Service) -> String? {
        service.chroot ? (main["queue_directory"] ?? "/var/spool/postfix") : nil
    }

    /// The smtpd services that take mail from the network: `TYPE` inet, or
    /// pass (behind postscreen).
    public var smtpdListeners: [Service] {
        services.filter { $0.command == "smtpd" && ($0.name.hasSuffix("/inet") || $0.name.hasSuffix("/pass")) }
    }

    /// The cleanup service (where `non_smtpd_milters` run).
    public var cleanup: Service? {
        services.first { $0.name == "cleanup/unix" } ?? services.first { $0.command == "cleanup" }
    }
}
