import Hummingbird
import HummingbirdCore
import NIOCore
import Synchronization

/// What one client may hold of the broker's connections. Its endpoints are
/// reachable by anyone (enrollment, the CA, the CRL), so a host that opens
/// connections and sends nothing, or stops half-way through a TLS handshake
/// or a request, must not hold them: every connection is closed after
/// `idleTimeout` without a request part (TLS handshake included), at most
/// `maxConnections` are open at once (more wait in the kernel's backlog
/// rather than use up the process's file descriptors), and one source
/// (``SourceKey``: an IPv4 address or an IPv6 /64) holds at most
/// `maxPerSource` of them — a further one is closed as soon as it is accepted.
public struct ConnectionLimits: Sendable, Hashable {
    /// Seconds a connection may stay without a request part.
    public var idleTimeout: Int = 30
    /// The most connections open at once (0: no cap).
    public var maxConnections: Int = 1_000
    /// The most connections open at once from one source (0: no cap).
    public var maxPerSource: Int = 32

    public init(idleTimeout: Int = 30, maxConnections: Int = 1_000, maxPerSource: Int = 32) {
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxPerSource = maxPerSource
    }
}

/// The client's source for rate limits, quotas and connection caps: its
/// IPv4 address (an IPv4-mapped IPv6 address is one), or the /64 of its
/// IPv6 address (one site usually holds a whole /64), or `local` for a
/// Unix socket. One rule for every per-source limit.
public enum SourceKey {
    public static func of(_ address: SocketAddress?) -> String {
        guard let address else { return "unknown" }
        switch address {
        case .v4:
            return address.ipAddress ?? "unknown"
        case .v6(let v6):
            var raw = v6.address.sin6_addr
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            if bytes[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
                return bytes[12..<16].map(String.init).joined(separator: ".")  // IPv4-mapped
            }
            return stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":") + "::/64"
        case .unixDomainSocket:
            return "local"
        }
    }
}

/// The connections open per source, shared by every connection's
/// ``PerSourceConnectionHandler``.
final class ConnectionsBySource: Sendable {
    let limit: Int
    private let counts = Mutex<[String: Int]>([:])
    private let refusedCounter: (@Sendable () -> Void)?

    init(limit: Int, refused: (@Sendable () -> Void)? = nil) {
        self.limit = limit
        self.refusedCounter = refused
    }

    /// Counts a new connection from `source`; false (and not counted) when
    /// the source already holds `limit`.
    func open(_ source: String) -> Bool {
        let admitted = counts.withLock { counts in
            let current = counts[source, default: 0]
            guard limit == 0 || current < limit else { return false }
            counts[source] = current + 1
            return true
        }
        if !admitted { refusedCounter?() }
        return admitted
    }

    func close(_ source: String) {
        counts.withLock { counts in
            guard let current = counts[source] else { return }
            if current <= 1 { counts.removeValue(forKey: source) } else { counts[source] = current - 1 }
        }
    }

    /// Connections open from `source` (tests).
    func count(_ source: String) -> Int { counts.withLock { $0[source, default: 0] } }
}

/// Closes a connection whose source already holds its share
/// (``ConnectionsBySource``), before anything of it is read; counts the
/// others until they close.
final class PerSourceConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let connections: ConnectionsBySource
    private var counted: String?

    init(_ connections: ConnectionsBySource) {
        self.connections = connections
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard counted == nil else { return }
        let source = SourceKey.of(context.channel.remoteAddress)
        if connections.open(source) {
            counted = source
        } else {
            context.close(promise: nil)
        }
    }

    private func release() {
        if let source = counted {
            connections.close(source)
            counted = nil
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }
}
