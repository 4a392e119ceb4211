/// How the broker protects its connection to PostgreSQL, with libpq's
/// `sslmode` names (given in the `Database` URL's query: `?sslmode=verify-full&sslrootcert=/path/ca.pem`).
public enum PostgresTLSMode: String, Sendable, Hashable, CaseIterable {
    /// Plaintext. Only sensible over loopback or a Unix socket.
    case disable
    /// Encrypted, the server's certificate not checked (an active attacker can read everything).
    case require
    /// Encrypted, the server's certificate must chain to `sslrootcert` (or the system's CAs); any name.
    case verifyCA = "verify-ca"
    /// `verify-ca`, and the certificate must name the host of the URL.
    case verifyFull = "verify-full"

    /// The mode in force for `host` when the URL asks for `requested`
    /// (nil: not given): `verify-full` for every host but the local
    /// machine's (`localhost`, 127.0.0.0/8, `::1`), where it stays `disable`.
    public static func effective(requested: PostgresTLSMode?, host: String) -> PostgresTLSMode {
        if let requested { return requested }
        return isLocal(host) ? .disable : .verifyFull
    }

    /// Whether `host` is this machine (a loopback address or `localhost`).
    public static func isLocal(_ host: String) -> Bool {
        let name = host.lowercased()
        if name == "localhost" || name == "::1" || name == "[::1]" { return true }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Whether `host` is an IP address literal rather than a name.
    public static func isIPAddress(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4 && parts.allSatisfy({ UInt8($0) != nil }) { return true }
        return host.contains(":")
    }
}
