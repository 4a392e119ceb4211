import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

/// What one client may hold of the broker's connections. Its endpoints are
/// reachable by anyone (enrollment, the CA, the CRL), so a host that opens
/// connections and sends nothing, stops half-way through a TLS handshake
/// or a request, or sends a request a byte at a time, must not hold them:
/// every connection is closed after `idleTimeout` without a request part
/// (TLS handshake and a request head sent slowly included), a request not
/// read whole within `requestTimeout` of its head closes its connection,
/// at most `maxConnections` are open at once (more wait in the kernel's
/// backlog rather than use up the process's file descriptors), and one
/// source (``SourceKey``: an IPv4 address or an IPv6 /64) holds at most
/// `maxPerSource` of them, its network (``SourceKey/network(of:)``: the
/// IPv4 /24 or the IPv6 /48) four times that — a further one is closed as
/// soon as it is accepted.
public struct ConnectionLimits: Sendable, Hashable {
    /// Seconds a connection may stay without a request part.
    public var idleTimeout: Int = 30
    /// Seconds from a request's head to its end.
    public var requestTimeout: Int = 30
    /// The most connections open at once (0: no cap).
    public var maxConnections: Int = 4_096
    /// The most connections open at once from one source (0: no cap); a
    /// source's network may hold four times as many.
    public var maxPerSource: Int = 32

    public init(idleTimeout: Int = 30, requestTimeout: Int = 30, maxConnections: Int = 4_096, maxPerSource: Int = 32) {
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.maxConnections = maxConnections
        self.maxPerSource = maxPerSource
    }

    /// How many sources of one network (``SourceKey/network(of:)``) may
    /// hold their full share at once.
    public static let sourcesPerNetwork = 4
}

/// The client's source for rate limits, quotas and connection caps: its
/// IPv4 address (an IPv4-mapped IPv6 address is one), or the /64 of its
/// IPv6 address (one site usually holds a whole /64), or `local` for a
/// Unix socket. One rule for every per-source limit.
public enum SourceKey {
    public static func of(_ address: SocketAddress?) -> String {
        key(address, ipv4Bytes: 4, ipv6Bytes: 8)
    }

    /// The network a source belongs to, for a cap shared by neighbours
    /// (one party easily holds many /64s of a /48, or several addresses of
    /// a /24): the IPv4 /24 or the IPv6 /48.
    public static func network(of address: SocketAddress?) -> String {
        key(address, ipv4Bytes: 3, ipv6Bytes: 6)
    }

    private static func key(_ address: SocketAddress?, ipv4Bytes: Int, ipv6Bytes: Int) -> String {
        guard let address else { return "unknown" }
        func ipv4(_ bytes: ArraySlice<UInt8>) -> String {
            let kept = bytes.prefix(ipv4Bytes).map(String.init).joined(separator: ".")
            return ipv4Bytes == 4 ? kept : kept + ".0/\(ipv4Bytes * 8)"
        }
        switch address {
        case .v4(let v4):
            var raw = v4.address.sin_addr
            return ipv4(withUnsafeBytes(of: &raw) { Array($0) }[...])
        case .v6(let v6):
            var raw = v6.address.sin6_addr
            let bytes = withUnsafeBytes(of: &raw) { Array($0) }
            if bytes[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] {
                return ipv4(bytes[12..<16])  // IPv4-mapped
            }
            return stride(from: 0, to: ipv6Bytes, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                .joined(separator: ":") + "::/\(ipv6Bytes * 8)"
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

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts a new connection from `source`; false (and not counted) when
    /// the source already holds `limit`.
    func open(_ source: String) -> Bool {
        counts.withLock { counts in
            let current = counts[source, default: 0]
            guard limit == 0 || current < limit else { return false }
            counts[source] = current + 1
            return true
        }
    }

    func close(_ source: String) {
        counts.withLock { counts in
            guard let current = counts[source] else { return }
            if current <= 1 { counts.removeValue(forKey: source) } else { counts[source] = current - 1 }
        }
    }

}

/// Closes a connection whose source or network already holds its share
/// (``ConnectionsBySource``: one table for sources, one for networks),
/// before anything of it is read; counts the others until they close.
final class PerSourceConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let sources: ConnectionsBySource
    private let networks: ConnectionsBySource
    private var counted: (source: String, network: String)?
    private var decided = false

    init(sources: ConnectionsBySource, networks: ConnectionsBySource) {
        self.sources = sources
        self.networks = networks
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        let address = context.channel.remoteAddress
        let source = SourceKey.of(address), network = SourceKey.network(of: address)
        guard sources.open(source) else {
            context.close(promise: nil)
            return
        }
        guard networks.open(network) else {
            sources.close(source)
            context.close(promise: nil)
            return
        }
        counted = (source, network)
    }

    private func release() {
        if let (source, network) = counted {
            sources.close(source)
            networks.close(network)
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

/// Closes a connection whose request is not read whole within
/// `timeout` of its head: the idle timer restarts with every body part,
/// so a body sent a byte at a time would hold a connection for ever.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            let channel = context.channel
            deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        case .body:
            break
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }
}
