/// Whether a Sendmail `.mc` file hands mail to the milter: an
/// `INPUT_MAIL_FILTER` (or `MAIL_FILTER`) line whose `S=` is the milter's
/// `Socket` and whose `F=T` makes Sendmail tempfail while the filter is
/// unavailable (without `F=`, Sendmail passes mail on as if there were no
/// filter). Pure.
public enum SendmailFilterCheck {
    /// One filter definition of the .mc file.
    public struct Filter: Sendable, Hashable {
        public var name: String
        /// The `S=` socket as written.
        public var socket: String
        /// The `F=` flags, upper-case (empty when absent).
        public var flags: String
        public var line: Int
    }

    /// The filter definitions of `.mc` text; `dnl` comment lines are skipped.
    public static func filters(in text: String) -> [Filter] {
        var result: [Filter] = []
        var number = 0
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            number += 1
            let line = raw.trimmingWhitespace()
            if line.hasPrefix("dnl") || line.hasPrefix("#") { continue }
            guard let open = line.firstRange(of: "MAIL_FILTER(") else { continue }
            let prefix = line[..<open.lowerBound]
            guard prefix.isEmpty || prefix == "INPUT_" else { continue }
            let arguments = line[open.upperBound...]
            // `name', `S=..., F=T, T=...'
            let quoted = arguments.split(separator: "`").map { $0.split(separator: "'").first.map(String.init) ?? "" }
            guard quoted.count >= 2 else { continue }
            let name = quoted[0]
            var socket = ""
            var flags = ""
            for part in quoted[1].split(separator: ",") {
                let item = part.trimmingWhitespace()
                if item.hasPrefix("S=") { socket = String(item.dropFirst(2)) }
                if item.hasPrefix("F=") { flags = String(item.dropFirst(2)).uppercased() }
            }
            result.append(Filter(name: name, socket: socket, flags: flags, line: number))
        }
        return result
    }

    /// `sendmail.input_mail_filter` for the .mc text at `path`.
    public static func finding(mc text: String, path: String, socket: SocketSpec) -> DoctorFinding {
        let id = "sendmail.input_mail_filter"
        let all = filters(in: text)
        let wanted = "INPUT_MAIL_FILTER(`fedmail', `S=\(socket), F=T, T=C:30s;S:60s;R:60s;E:5m')dnl"
        guard let filter = all.first(where: { (try? SocketSpec(parsing: $0.socket)) == socket }) else {
            let seen = all.map { "\(path):\($0.line) \($0.name) S=\($0.socket)" }.joined(separator: ", ")
            return .fail(id, "no INPUT_MAIL_FILTER in \(path) names the milter's Socket \(socket)\(seen.isEmpty ? "" : " (found: \(seen))"): Sendmail does not pass mail through FedMail",
                         fix: "add (or correct) in \(path): \(wanted) -- as contrib/sendmail/fedmail.mc; rebuild sendmail.cf (sendmailconfig or make -C /etc/mail) and restart sendmail")
        }
        if filter.flags.contains("T") {
            return .ok(id, "\(path):\(filter.line) \(filter.name) S=\(filter.socket) F=\(filter.flags): tempfail while the milter is unavailable")
        }
        if filter.flags.contains("R") {
            return .warn(id, "\(path):\(filter.line) \(filter.name) has F=R: while the milter is unavailable mail is refused for good (5xx) instead of delayed",
                         fix: "use F=T in \(path) (\(wanted)), rebuild sendmail.cf and restart sendmail")
        }
        return .fail(id, "\(path):\(filter.line) \(filter.name) has no F=T: while the milter is unavailable Sendmail passes mail on unsealed, also to require partners",
                     fix: "add F=T in \(path) (\(wanted)), rebuild sendmail.cf and restart sendmail")
    }
}
