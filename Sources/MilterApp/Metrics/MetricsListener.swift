import FedMailCore
import NIOCore
import NIOPosix
import Synchronization

/// The `/metrics` endpoint of `MetricsListen`: a small HTTP/1.x listener on
/// its own event loop thread, answering `GET /metrics` (and `HEAD`) with the
/// Prometheus text exposition and closing each connection after one answer.
/// A request is read up to 8 KiB and 10 seconds; anything else is refused
/// (405 for other methods, 404 for other paths, 431 or 408 past the bounds).
/// At most 16 connections are open at once; one more is closed at once, so
/// a flood of idle connections cannot take the descriptors the milter needs
/// for the MTA and its spool (they share one process limit). Every
/// connection is closed 10 seconds after it was accepted at the latest,
/// also one whose client does not read the answer.
public final class MetricsListener: Sendable {
    /// The most bytes of a request read (request line and header fields).
    static let maxRequestBytes = 8192
    /// The longest a connection may take to send its request.
    static let requestTimeout: TimeAmount = .seconds(10)
    /// The most connections open at once.
    static let maxConnections = 16

    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    /// The address bound (with the port the system chose for port 0).
    public let localAddress: String

    /// Binds `listen` and serves `exposition()` there.
    public init(listen: MetricsListen, exposition: @escaping @Sendable () -> String) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let open = ConnectionCount(limit: Self.maxConnections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(MetricsRequestHandler(exposition: exposition, open: open))
                }
            }
        do {
            channel = try bootstrap.bind(host: listen.host, port: listen.port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw MetricsListenerError(message: "MetricsListen \(listen): cannot listen: \(error)")
        }
        self.group = group
        if let address = channel.localAddress, let ip = address.ipAddress, let port = address.port {
            localAddress = ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        } else {
            localAddress = "\(listen)"
        }
    }

    /// Stops listening and ends the thread.
    public func shutdown() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Why the metrics listener could not start.
public struct MetricsListenerError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// How many connections the listener has open, up to a limit.
final class ConnectionCount: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Takes a place; false when all `limit` are taken.
    func enter() -> Bool {
        let now = count.wrappingAdd(1, ordering: .relaxed).newValue
        if now > limit {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() { count.wrappingSubtract(1, ordering: .relaxed) }

    var current: Int { count.load(ordering: .relaxed) }
}

/// One connection: reads the request head (bounded), answers once, closes.
final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let exposition: @Sendable () -> String
    private let open: ConnectionCount
    private var counted = false
    private var request: [UInt8] = []
    private var answered = false
    private var timeout: Scheduled<Void>?

    init(exposition: @escaping @Sendable () -> String, open: ConnectionCount) {
        self.exposition = exposition
        self.open = open
    }

    func channelActive(context: ChannelHandlerContext) {
        guard open.enter() else {
            answered = true
            context.close(promise: nil)
            return
        }
        counted = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: MetricsListener.requestTimeout) {
            let (handler, context) = loopBound.value
            handler.answer(context: context, status: "408 Request Timeout", body: "request timeout\n")
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        if counted {
            counted = false
            open.leave()
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        var buffer = unwrapInboundIn(data)
        let room = MetricsListener.maxRequestBytes - request.count
        request += buffer.readBytes(length: min(room, buffer.readableBytes)) ?? []
        if let head = MetricsRequest.head(of: request) {
            let (status, body, headOnly) = MetricsRequest.answer(to: head, exposition: exposition)
            answer(context: context, status: status, body: body, headOnly: headOnly)
        } else if request.count >= MetricsListener.maxRequestBytes {
            answer(context: context, status: "431 Request Header Fields Too Large", body: "request too large\n")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func answer(context: ChannelHandlerContext, status: String, body: String, headOnly: Bool = false) {
        guard !answered else {
            // The deadline passed while the answer was still being written
            // (a client that does not read): the connection goes anyway.
            context.close(promise: nil)
            return
        }
        answered = true
        let bodyBytes = Array(body.utf8)
        let contentType = status.hasPrefix("200") ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8"
        var head = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(bodyBytes.count)\r\nConnection: close\r\n"
        if status.hasPrefix("405") { head += "Allow: GET, HEAD\r\n" }
        head += "\r\n"
        var out = context.channel.allocator.buffer(capacity: head.utf8.count + bodyBytes.count)
        out.writeString(head)
        if !headOnly { out.writeBytes(bodyBytes) }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in bound.value.close(promise: nil) }
    }
}
