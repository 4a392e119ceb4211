import BrokerStore
import FederationProtocol
import NIOCore
import X509

/// Where a request came from, for the audit trail: the client's address and
/// the identity its TLS handshake presented. Operator commands are `local`.
public struct RequestOrigin: Sendable, Hashable {
    /// `address:port` of the client, or `local`.
    public var source: String
    /// `cert=<sha256> cn=<common name>` of the client certificate the TLS layer
    /// verified, `none` when the client sent none, nil for operator commands.
    public var identity: String?

    public init(source: String, identity: String?) {
        self.source = source
        self.identity = identity
    }

    /// An operator command on the broker host.
    public static let local = RequestOrigin(source: "local", identity: nil)

    /// The origin of an HTTPS request: remote address and client certificate.
    static func of(_ context: BrokerRequestContext) async -> RequestOrigin {
        let source: String
        switch context.channel.remoteAddress {
        case .some(.unixDomainSocket): source = "unix"
        case .some(let address): source = "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
        case .none: source = "unknown"
        }
        guard let der = await context.peerCertificateDER() else { return RequestOrigin(source: source, identity: "none") }
        return RequestOrigin(source: source, identity: describe(der))
    }

    /// `cert=<sha256> cn=<name>` of a DER certificate (the name as the certificate says it, or `?`).
    static func describe(_ der: [UInt8]) -> String {
        let fingerprint = Fingerprint.sha256Hex(der)
        let name = (try? Certificate(derEncoded: der))?.subject.commonNameValue ?? "?"
        return "cert=\(fingerprint) cn=\(name)"
    }

    /// Stamps `event` with this origin.
    func stamp(_ event: AuditEvent) -> AuditEvent {
        var event = event
        event.source = source
        event.identity = identity
        return event
    }
}
