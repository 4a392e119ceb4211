/// `HOST:PORT` as configuration files and options write it, IPv6 in
/// brackets (`[::1]:9466`). The one place such a value is split and its
/// port read: the milter's `MetricsListen`, the broker's `Listen` and
/// `--listen`, and the broker's DNS server address all go through it. Pure.
public enum HostPortSyntax {
    /// What a value is made of.
    public enum Parts: Equatable, Sendable {
        /// `host:port` or `[v6]:port` (the brackets taken off).
        case hostAndPort(host: Substring, port: Substring)
        /// No colon at all: a port alone, or a host alone (the caller knows which).
        case single(Substring)
        /// `::1:9466`: an IPv6 address outside brackets, where the port
        /// cannot be told from the address.
        case unbracketedIPv6(host: Substring, port: Substring)
        /// `[` without a matching `]:`, or `[]`.
        case malformed
    }

    /// Splits `text` (trimmed by the caller) at its port.
    public static func split(_ text: Substring) -> Parts {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return .malformed }
            let host = text[text.index(after: text.startIndex)..<close]
            guard !host.isEmpty else { return .malformed }
            return .hostAndPort(host: host, port: text[text.index(close, offsetBy: 2)...])
        }
        guard let colon = text.lastIndex(of: ":") else { return .single(text) }
        let host = text[..<colon]
        let port = text[text.index(after: colon)...]
        if host.contains(":") { return .unbracketedIPv6(host: host, port: port) }
        return .hostAndPort(host: host, port: port)
    }

    /// The port in `text`: one to five ASCII digits, 1...65535 (0 too when
    /// `allowZero`, "any free port", for listeners in tests).
    public static func port(_ text: Substring, allowZero: Bool = false) -> Int? {
        guard (1...5).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(text) else { return nil }
        return ((allowZero ? 0 : 1)...65_535).contains(port) ? port : nil
    }
}
