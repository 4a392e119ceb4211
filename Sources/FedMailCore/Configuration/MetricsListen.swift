/// Where `fedmail-milter` serves Prometheus metrics (`MetricsListen`):
/// an IP address and a TCP port. Pure: parsed from the configuration
/// value; the daemon opens the listener.
///
/// ```
/// MetricsListen 9466                 # 127.0.0.1:9466
/// MetricsListen 127.0.0.1:9466
/// MetricsListen [::1]:9466
/// MetricsListen 192.0.2.10:9466      # only with MetricsFromAnywhere yes
/// MetricsListen none                 # no listener (as when the name is absent)
/// ```
public struct MetricsListen: Sendable, Hashable, CustomStringConvertible {
    /// The address to bind, as written (`localhost` becomes `127.0.0.1`).
    public var host: String
    /// The TCP port, 1...65535.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Whether the address is a loopback one (127.0.0.0/8 or ::1).
    public var isLoopback: Bool {
        guard let bytes = IPNetwork.parseAddress(Substring(host)) else { return false }
        if bytes.count == 4 { return bytes[0] == 127 }
        return bytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// `host:port`, IPv6 in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Why a value is refused.
    public struct ParseError: Error, Sendable, Equatable {
        public var message: String
    }

    /// Parses a `MetricsListen` value; `nil` for `none` (no listener).
    public static func parse(_ value: String) throws(ParseError) -> MetricsListen? {
        let text = value.trimmingWhitespace()
        if text.isEmpty || text.lowercased() == "none" { return nil }
        let usage = "must be PORT, ADDRESS:PORT or [IPv6]:PORT (for example 127.0.0.1:9466) or none, not '\(text)'"
        let hostPart: Substring
        let portPart: Substring
        switch HostPortSyntax.split(text[...]) {
        case .hostAndPort(let host, let port):
            if text.hasPrefix("["), !host.contains(":") { throw ParseError(message: usage) }
            (hostPart, portPart) = (host, port)
        case .single(let port):
            (hostPart, portPart) = ("127.0.0.1", port)
        case .unbracketedIPv6(let host, let port):
            throw ParseError(message: "an IPv6 address goes in brackets: [\(host)]:\(port)")
        case .malformed:
            throw ParseError(message: usage)
        }
        guard let port = HostPortSyntax.port(portPart) else {
            throw ParseError(message: "port '\(portPart)' is not a number from 1 to 65535; \(usage)")
        }
        let host = hostPart.lowercased() == "localhost" ? "127.0.0.1" : String(hostPart)
        guard IPNetwork.parseAddress(Substring(host)) != nil else {
            throw ParseError(message: "'\(hostPart)' is not an IP address (host names are not looked up); \(usage)")
        }
        return MetricsListen(host: host, port: port)
    }
}
