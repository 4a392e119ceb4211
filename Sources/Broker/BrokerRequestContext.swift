import Hummingbird
import NIOCore
import NIOSSL

/// The request context of the broker: Hummingbird's core context plus the
/// connection's channel, from which the TLS layer's verified peer certificate is read.
public struct BrokerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    /// TEST SEAM: the client certificate a test's responder puts in place of
    /// the TLS layer's (HummingbirdTesting's router framework has no TLS).
    /// Internal, reachable only through `@testable import`; nothing in the
    /// product sets it, so the broker's callers are always identified by TLS.
    var testPeerCertificateDER: [UInt8]?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// The client certificate (DER) that the TLS handshake verified against the broker CA, if the client sent one.
    public func peerCertificateDER() async -> [UInt8]? {
        if let testPeerCertificateDER { return testPeerCertificateDER }
        guard let certificate = try? await channel.nioSSL_peerCertificate().get() else { return nil }
        return try? certificate.toDERBytes()
    }

    /// Whether the client connected from a loopback address.
    public var isLoopbackClient: Bool {
        guard let address = channel.remoteAddress else { return false }
        switch address {
        case .v4(let v4): return v4.address.sin_addr.s_addr.bigEndian >> 24 == 127
        case .v6: return address.ipAddress == "::1"
        case .unixDomainSocket: return true
        }
    }
}
