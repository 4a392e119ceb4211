import Foundation
import NIOCore
import Testing
@testable import Broker
#if canImport(Glibc)
import Glibc
#endif

/// The broker's endpoints are open to anyone, so a host that opens
/// connections and sends nothing (or stops inside the TLS handshake) must
/// not hold them: before these limits, a few hundred silent connections
/// used up the broker's file descriptors and nobody could enroll, renew,
/// fetch a token or the CRL (attacker review, 2026-12-07). A real broker
/// (TLS, real sockets) on loopback; the clients are raw TCP sockets.
@Suite("broker connection limits", .serialized)
struct ConnectionLimitsTests {
    /// Runs a real broker with `limits` on 127.0.0.1 and gives `test` its port.
    static func withLiveBroker(_ limits: ConnectionLimits, _ test: @Sendable (Int) async throws -> Void) async throws {
        let broker = try await TestBroker.make { $0.connectionLimits = limits }
        defer { Task { await broker.close() } }
        let port = AsyncStream.makeStream(of: Int.self)
        let server = BrokerServer(service: broker.service)
        let running = Task { try await server.run(host: "127.0.0.1", port: 0) { port.continuation.yield($0) } }
        defer { running.cancel() }
        var ports = port.stream.makeAsyncIterator()
        let bound = try #require(await ports.next())
        try await test(bound)
    }

    /// A connected TCP socket to 127.0.0.1:`port`, with a receive timeout of `seconds`.
    static func connect(_ port: Int, timeout seconds: Int = 10) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(result == 0)
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    /// Whether the broker closed `fd` (a read sees the end) before the receive timeout.
    static func closedByBroker(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    @Test("a connection that sends nothing, or stops inside the TLS handshake, is closed after IdleTimeout")
    func idleConnectionsAreClosed() async throws {
        try await Self.withLiveBroker(ConnectionLimits(idleTimeout: 1, maxConnections: 100, maxPerSource: 100)) { port in
            let silent = try Self.connect(port)
            defer { close(silent) }
            let partial = try Self.connect(port)
            defer { close(partial) }
            // The first bytes of a TLS ClientHello record, and then nothing.
            let start: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xC8, 0x01]
            _ = send(partial, start, start.count, 0)
            #expect(Self.closedByBroker(silent), "a silent connection was still open after 10 s")
            #expect(Self.closedByBroker(partial), "a half-sent handshake was still open after 10 s")
        }
    }

    @Test("one source holds at most MaxConnectionsPerSource: a further connection is closed at once, the held ones are not")
    func perSourceCap() async throws {
        try await Self.withLiveBroker(ConnectionLimits(idleTimeout: 60, maxConnections: 100, maxPerSource: 3)) { port in
            var held: [Int32] = []
            defer { held.forEach { close($0) } }
            for _ in 0..<3 { held.append(try Self.connect(port)) }
            // Give the broker the moment it needs to count them.
            try await Task.sleep(for: .milliseconds(300))
            let extra = try Self.connect(port, timeout: 5)
            defer { close(extra) }
            #expect(Self.closedByBroker(extra), "a fourth connection from the same source was kept")
            // The three held ones are still open (a read times out rather than seeing the end).
            let first = try #require(held.first)
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(first, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var byte: UInt8 = 0
            #expect(recv(first, &byte, 1, 0) == -1, "a held connection was closed")
            // Once one is closed, the source may connect again.
            close(held.removeLast())
            try await Task.sleep(for: .milliseconds(300))
            let again = try Self.connect(port, timeout: 1)
            defer { close(again) }
            #expect(recv(again, &byte, 1, 0) == -1, "a connection within the cap was closed")
        }
    }

    @Test("the configuration keys: IdleTimeout, MaxConnections, MaxConnectionsPerSource; defaults 30 s, 1000, 32")
    func configuration() throws {
        #expect(BrokerConfiguration().connectionLimits == ConnectionLimits(idleTimeout: 30, maxConnections: 1_000, maxPerSource: 32))
        let parsed = try BrokerConfiguration(parsing: "IdleTimeout 2m\nMaxConnections 0\nMaxConnectionsPerSource 8\n", path: "t.conf")
        #expect(parsed.connectionLimits == ConnectionLimits(idleTimeout: 120, maxConnections: 0, maxPerSource: 8))
        #expect(throws: (any Error).self) { try BrokerConfiguration(parsing: "IdleTimeout 0\n", path: "t.conf") }
        #expect(throws: (any Error).self) { try BrokerConfiguration(parsing: "MaxConnectionsPerSource lots\n", path: "t.conf") }
    }

    @Test("one rule for a source: an IPv4 address, an IPv4-mapped IPv6 address as IPv4, an IPv6 /64")
    func sourceKey() throws {
        #expect(SourceKey.of(try SocketAddress(ipAddress: "192.0.2.7", port: 1)) == "192.0.2.7")
        #expect(SourceKey.of(try SocketAddress(ipAddress: "::ffff:192.0.2.7", port: 1)) == "192.0.2.7")
        #expect(SourceKey.of(try SocketAddress(ipAddress: "2001:db8:1:2:aaaa::1", port: 1))
                == SourceKey.of(try SocketAddress(ipAddress: "2001:db8:1:2:bbbb::9", port: 1)))
        #expect(SourceKey.of(try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1))
                != SourceKey.of(try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1)))
    }
}
