/// Whether Postfix hands mail to the milter as FedMail needs: every
/// network smtpd with milters (and cleanup, for `non_smtpd_milters`) names
/// the milter's `Socket` — a unix path as that process sees it, i.e.
/// relative to the queue directory when it runs chrooted — and
/// `milter_default_action = tempfail`, so an unreachable milter delays mail
/// instead of letting it out unsealed. Pure.
public enum PostfixMilterCheck {
    /// The findings `postfix.smtpd_milters`, `postfix.non_smtpd_milters`,
    /// `postfix.milter_default_action` for a milter listening on `socket`;
    /// the fixes name `configDirectory` (`postconf -c DIR`) when given.
    /// `opens`: the milter opens inbound mail (Mode open or both), which
    /// makes the milters after it matter (``milterOrder(_:socket:opens:)``).
    public static func findings(_ settings: PostfixSettings, socket: SocketSpec, configDirectory: String? = nil,
                                opens: Bool = true) -> [DoctorFinding] {
        let commands = Commands(configDirectory: configDirectory)
        return [smtpdMilters(settings, socket: socket, commands), nonSmtpdMilters(settings, socket: socket, commands),
                defaultAction(settings, socket: socket, commands), milterOrder(settings, socket: socket, opens: opens)]
    }

    /// `postfix.milter_order`: on a gateway that opens mail, which milters
    /// run after FedMail in a network smtpd's list. FedMail records an
    /// opened message in its replay cache at end of message, and a milter
    /// cannot learn whether the MTA then queues it: if a later milter
    /// refuses or tempfails the message, the partner's retry is taken for a
    /// replay and discarded. A warning, since a later milter that never
    /// refuses inbound mail (a signer of internal mail) is harmless.
    static func milterOrder(_ settings: PostfixSettings, socket: SocketSpec, opens: Bool) -> DoctorFinding {
        let id = "postfix.milter_order"
        guard opens else {
            return .ok(id, "the milter only seals: a milter after it that refuses makes the client retry, and the retry is sealed again (a split's copy, already queued, is not sent twice)")
        }
        var later: [String] = []
        for service in settings.smtpdListeners {
            let list = PostfixMilterList(parsing: service.value("smtpd_milters", main: settings.main) ?? "")
            let chroot = settings.chrootDirectory(service)
            guard let index = list.milters.firstIndex(where: { names($0, socket: socket, chroot: chroot) }) else { continue }
            let after = list.milters[(index + 1)...].map(\.address)
            if !after.isEmpty { later.append("\(service.name): \(after.joined(separator: ", "))") }
        }
        guard !later.isEmpty else {
            return .ok(id, "FedMail is the last milter: when it records an opened message as delivered, no milter can refuse it any more")
        }
        return .warn(id, "milters run after FedMail (\(later.joined(separator: "; "))): FedMail records an opened message as delivered at end of message; if a later milter then refuses or tempfails it, the partner's retry is discarded as a replay and the message is lost",
                     fix: "put FedMail last in smtpd_milters (the milters that judge inbound mail before it, e.g. smtpd_milters = opendkim-verify, opendmarc, fedmail), or make sure each milter after it never refuses inbound mail (a DKIM signer of internal mail only)")
    }

    /// How the fixes spell postconf and the reload.
    struct Commands {
        var postconf = "postconf"
        var reload = "postfix reload"
        init(configDirectory: String?) {
            if let configDirectory {
                postconf = "postconf -c \(configDirectory)"
                reload = "postfix -c \(configDirectory) reload"
            }
        }
    }

    /// Whether `milter`, as a process chrooted to `chroot` (nil: not
    /// chrooted) resolves it, is `socket`.
    public static func names(_ milter: PostfixMilterList.Milter, socket: SocketSpec, chroot: String?) -> Bool {
        switch socket {
        case .unix(let path):
            guard let written = milter.unixPath else { return false }
            return normalize((chroot ?? "") + "/" + written) == normalize(path)
        case .inet(let port, let host), .inet6(let port, let host):
            guard let inet = milter.inet, inet.port == port else { return false }
            guard let host else { return true }
            let loopback: Set<String> = ["127.0.0.1", "localhost", "::1"]
            return inet.host.lowercased() == host.lowercased() || (loopback.contains(inet.host.lowercased()) && loopback.contains(host.lowercased()))
        }
    }

    /// What to write in a Postfix milter list for `socket` from a process
    /// chrooted to `chroot`; nil when a chrooted process cannot reach the
    /// unix socket (it is outside the chroot).
    public static func address(for socket: SocketSpec, chroot: String?) -> String? {
        switch socket {
        case .unix(let path):
            guard let chroot else { return "unix:" + normalize(path) }
            let root = normalize(chroot)
            let full = normalize(path)
            guard full.hasPrefix(root + "/") else { return nil }
            return "unix:" + String(full.dropFirst(root.count))
        case .inet(let port, let host):
            return "inet:\(host ?? "127.0.0.1"):\(port)"
        case .inet6(let port, let host):
            return "inet:[\(host ?? "::1")]:\(port)"
        }
    }

    /// `postfix.smtpd_milters`: every network smtpd whose milter list is
    /// not empty names the socket, and at least one does. A listener with
    /// an empty list (a re-injection service, `-o smtpd_milters=`) is
    /// named in the message, not an error.
    static func smtpdMilters(_ settings: PostfixSettings, socket: SocketSpec, _ commands: Commands) -> DoctorFinding {
        let id = "postfix.smtpd_milters"
        let listeners = settings.smtpdListeners
        guard !listeners.isEmpty else {
            return .fail(id, "master.cf has no smtpd listening on the network", fix: "check master.cf (postconf -M)")
        }
        var good: [String] = []
        var bare: [String] = []
        var problems: [String] = []
        var fixes: [String] = []
        for service in listeners {
            let value = service.value("smtpd_milters", main: settings.main) ?? ""
            let list = PostfixMilterList(parsing: value)
            if list.milters.isEmpty { bare.append(service.name); continue }
            let chroot = settings.chrootDirectory(service)
            if list.milters.contains(where: { names($0, socket: socket, chroot: chroot) }) {
                good.append(service.name)
                continue
            }
            let origin = service.overrides["smtpd_milters"] != nil ? "its -o smtpd_milters" : "smtpd_milters"
            var problem = "\(service.name): \(origin) = \(value) does not name the milter's Socket \(socket)"
            if let chroot, list.milters.contains(where: { names($0, socket: socket, chroot: nil) }) {
                problem += " (smtpd runs chrooted to \(chroot), so it looks for \(normalize(chroot + "/" + (socket.unixPath ?? ""))))"
            }
            problems.append(problem)
            fixes.append(fix(for: socket, chroot: chroot, parameter: "smtpd_milters", service: service, commands))
        }
        if !problems.isEmpty {
            return .fail(id, problems.joined(separator: "; ") + ": mail through it is neither sealed nor opened",
                         fix: unique(fixes).joined(separator: "; "))
        }
        let note = bare.isEmpty ? "" : "; without milters: \(bare.joined(separator: ", ")) (a re-injection listener must be one of these)"
        return .ok(id, "\(good.joined(separator: ", ")) use \(socket)\(note)")
    }

    /// `postfix.non_smtpd_milters`: cleanup names the socket too, so mail
    /// submitted locally (sendmail(1), pickup) is sealed.
    static func nonSmtpdMilters(_ settings: PostfixSettings, socket: SocketSpec, _ commands: Commands) -> DoctorFinding {
        let id = "postfix.non_smtpd_milters"
        let service = settings.cleanup
        let value = service.flatMap { $0.value("non_smtpd_milters", main: settings.main) } ?? settings.main["non_smtpd_milters"] ?? ""
        let chroot = service.flatMap { settings.chrootDirectory($0) }
        let list = PostfixMilterList(parsing: value)
        if list.milters.contains(where: { names($0, socket: socket, chroot: chroot) }) {
            return .ok(id, "non_smtpd_milters = \(value)")
        }
        let fixText = service.map { fix(for: socket, chroot: chroot, parameter: "non_smtpd_milters", service: $0, commands) }
            ?? "\(commands.postconf) -e 'non_smtpd_milters = $smtpd_milters'"
        return .fail(id, "non_smtpd_milters = \(value.isEmpty ? "(empty)" : value) does not name the milter's Socket \(socket)\(chroot.map { " as cleanup sees it (chrooted to \($0))" } ?? ""): mail submitted on this host (sendmail, cron, bounces) leaves unsealed",
                     fix: fixText)
    }

    /// `postfix.milter_default_action`: `tempfail` everywhere the milter
    /// runs (main.cf, a service's `-o`, the milter's own group setting).
    static func defaultAction(_ settings: PostfixSettings, socket: SocketSpec, _ commands: Commands) -> DoctorFinding {
        let id = "postfix.milter_default_action"
        var places: [(String, String)] = [("main.cf", settings.main["milter_default_action"] ?? "tempfail")]
        for service in settings.smtpdListeners + (settings.cleanup.map { [$0] } ?? []) {
            if let value = service.overrides["milter_default_action"] { places.append(("\(service.name) -o", value)) }
            let parameter = service.command == "cleanup" ? "non_smtpd_milters" : "smtpd_milters"
            let list = PostfixMilterList(parsing: service.value(parameter, main: settings.main) ?? "")
            for milter in list.milters where names(milter, socket: socket, chroot: settings.chrootDirectory(service)) {
                if let value = milter.settings["default_action"] { places.append(("\(service.name) { \(milter.address), default_action }", value)) }
            }
        }
        let wrong = places.filter { $0.1.lowercased() != "tempfail" }
        guard !wrong.isEmpty else {
            return .ok(id, "tempfail: while the milter is unreachable Postfix answers 4xx and the mail waits")
        }
        let described = wrong.map { "\($0.0): \($0.1)" }.joined(separator: ", ")
        let fixText = "\(commands.postconf) -e 'milter_default_action = tempfail' (and drop other default_action settings for this milter), then \(commands.reload)"
        if wrong.allSatisfy({ $0.1.lowercased() == "reject" }) {
            return .warn(id, "milter_default_action \(described): while the milter is unreachable mail is refused for good (5xx) instead of delayed",
                         fix: fixText)
        }
        return .fail(id, "milter_default_action \(described): while the milter is unreachable mail passes unsealed, also to require partners",
                     fix: fixText)
    }

    static func fix(for socket: SocketSpec, chroot: String?, parameter: String, service: PostfixSettings.Service, _ commands: Commands) -> String {
        let isMain = service.overrides[parameter] == nil
        guard let address = address(for: socket, chroot: chroot) else {
            return "\(service.name) runs chrooted to \(chroot ?? ""), outside of which the milter's socket \(socket) is: put the Socket under it (e.g. Socket local:\(chroot ?? "/var/spool/postfix")/fedmail/milter.sock and \(parameter) = unix:/fedmail/milter.sock), or set the service's chroot column to n in master.cf"
        }
        if isMain {
            return "\(commands.postconf) -e '\(parameter) = \(address)', then \(commands.reload)"
        }
        return "in master.cf, \(service.name): -o \(parameter)=\(address), then \(commands.reload)"
    }

    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    static func unique(_ items: [String]) -> [String] {
        var seen: Set<String> = []
        return items.filter { seen.insert($0).inserted }
    }
}
