/// Where a milter listens, in the forms OpenDKIM and libmilter use:
/// `local:/path` or `unix:/path` (or a bare absolute path), `inet:port@host`
/// (or `inet:port` for every IPv4 address), `inet6:port@host` (host may be in
/// brackets).
public enum SocketSpec: Sendable, Hashable, CustomStringConvertible {
    /// A unix-domain socket at an absolute path.
    case unix(path: String)
    /// A TCP socket over IPv4; `host` `nil` means every address.
    case inet(port: Int, host: String?)
    /// A TCP socket over IPv6; `host` `nil` means every address.
    case inet6(port: Int, host: String?)

    /// The longest unix socket path the kernel accepts (`sun_path` less the NUL).
    public static let maximumPathLength = 107

    /// Parses a socket specification.
    ///
    /// - Throws: ``SocketSpecError`` saying what is wrong and which forms are valid.
    public init(parsing text: String) throws(SocketSpecError) {
        if text.hasPrefix("/") {
            self = .unix(path: try Self.unixPath(text, original: text))
            return
        }
        guard let colon = text.firstIndex(of: ":") else {
            throw SocketSpecError(message: "'\(text)' is not a socket; use local:/path, inet:port@host or inet6:port@host")
        }
        let kind = text[..<colon].lowercased()
        let rest = String(text[text.index(after: colon)...])
        switch kind {
        case "local", "unix":
            self = .unix(path: try Self.unixPath(rest, original: text))
        case "inet", "inet6":
            let portText: Substring
            var host: String?
            if let at = rest.firstIndex(of: "@") {
                portText = rest[..<at]
                host = String(rest[rest.index(after: at)...])
            } else {
                portText = Substring(rest)
            }
            guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let port = Int(portText), (1...65_535).contains(port) else {
                throw SocketSpecError(message: "'\(text)': the port must be a number from 1 to 65535")
            }
            if kind == "inet" {
                if let name = host {
                    guard Self.isHostName(name) else {
                        throw SocketSpecError(message: "'\(text)': '\(name)' is not an IPv4 address or host name")
                    }
                }
                self = .inet(port: port, host: host)
            } else {
                if var name = host {
                    if name.hasPrefix("["), name.hasSuffix("]"), name.count > 2 {
                        name = String(name.dropFirst().dropLast())
                    }
                    guard Self.isIPv6Address(name) || Self.isHostName(name) else {
                        throw SocketSpecError(message: "'\(text)': '\(name)' is not an IPv6 address or host name")
                    }
                    host = name
                }
                self = .inet6(port: port, host: host)
            }
        default:
            throw SocketSpecError(message: "unknown socket type '\(kind)' in '\(text)'; use local:/path, inet:port@host or inet6:port@host")
        }
    }

    /// The form libmilter's `smfi_setconn` takes.
    public var libmilterAddress: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .inet(let port, let host): return host.map { "inet:\(port)@\($0)" } ?? "inet:\(port)"
        case .inet6(let port, let host): return host.map { "inet6:\(port)@\($0)" } ?? "inet6:\(port)"
        }
    }

    /// The path of a unix socket, `nil` for TCP.
    public var unixPath: String? {
        if case .unix(let path) = self { return path }
        return nil
    }

    public var description: String {
        switch self {
        case .unix(let path): return "local:\(path)"
        default: return libmilterAddress
        }
    }

    private static func unixPath(_ path: String, original: String) throws(SocketSpecError) -> String {
        guard path.hasPrefix("/") else {
            throw SocketSpecError(message: "'\(original)': a unix socket needs an absolute path")
        }
        guard path.utf8.count <= maximumPathLength else {
            throw SocketSpecError(message: "'\(original)': a unix socket path may be at most \(maximumPathLength) bytes")
        }
        guard !path.contains(where: { $0 == " " || $0 == "\t" }) else {
            throw SocketSpecError(message: "'\(original)': white space in a socket path")
        }
        return path
    }

    private static func isHostName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 253 && !name.hasPrefix("-") && !name.hasPrefix(".")
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
    }

    private static func isIPv6Address(_ name: String) -> Bool {
        name.contains(":") && name.count <= 45
            && name.allSatisfy { $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == ".") }
    }
}

/// A socket specification that does not parse.
public struct SocketSpecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with it.
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
