/// A Postfix milter list (`smtpd_milters`, `non_smtpd_milters`), as
/// `postconf -xh` prints it: milters separated by commas or white space,
/// each `unix:PATH` or `inet:HOST:PORT` (host may be `[ipv6]`), or a
/// Postfix 3 group `{ unix:PATH, default_action=accept, ... }` whose
/// settings apply to that milter only. Pure.
public struct PostfixMilterList: Sendable, Hashable {
    /// One milter of the list.
    public struct Milter: Sendable, Hashable {
        /// The address as written, e.g. `unix:/run/fedmail/milter.sock`.
        public var address: String
        /// The group's per-milter settings (`default_action`, `connect_timeout`, ...), lower-case names.
        public var settings: [String: String]

        public init(address: String, settings: [String: String] = [:]) {
            self.address = address
            self.settings = settings
        }

        /// The path of a `unix:` (or `local:`) milter.
        public var unixPath: String? {
            let lower = address.lowercased()
            for prefix in ["unix:", "local:"] where lower.hasPrefix(prefix) {
                return String(address.dropFirst(prefix.count))
            }
            return nil
        }

        /// Host and port of an `inet:HOST:PORT` milter (brackets removed).
        public var inet: (host: String, port: Int)? {
            guard address.lowercased().hasPrefix("inet:") else { return nil }
            let rest = address.dropFirst(5)
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else { return nil }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            return (host, port)
        }
    }

    public var milters: [Milter]

    public init(milters: [Milter]) { self.milters = milters }

    /// Parses a list value. Unbalanced braces end the group at the end of the text.
    public init(parsing text: String) {
        var milters: [Milter] = []
        var index = text.startIndex
        func isSeparator(_ c: Character) -> Bool { c == "," || c.isWhitespace }
        while index < text.endIndex {
            let c = text[index]
            if isSeparator(c) { index = text.index(after: index); continue }
            if c == "{" {
                let start = text.index(after: index)
                let end = text[start...].firstIndex(of: "}") ?? text.endIndex
                let items = text[start..<end].split(whereSeparator: isSeparator).map(String.init)
                if let address = items.first(where: { !$0.contains("=") }) {
                    var settings: [String: String] = [:]
                    for item in items where item.contains("=") {
                        let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                        settings[parts[0].lowercased()] = parts.count > 1 ? String(parts[1]) : ""
                    }
                    milters.append(Milter(address: address, settings: settings))
                }
                index = end < text.endIndex ? text.index(after: end) : end
                continue
            }
            let end = text[index...].firstIndex(where: { isSeparator($0) || $0 == "{" }) ?? text.endIndex
            milters.append(Milter(address: String(text[index..<end])))
            index = end
        }
        self.milters = milters
    }
}
