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

    /// A connected TCP socket to 127.0.0.1:`port` from `source` (any
    /// 127/8 address), with a receive timeout of `seconds`.
    static func connect(_ port: Int, from source: String? = nil, timeout seconds: Int = 10) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            try #require(bound == 0)
        }
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

    @Test("a source's network (IPv4 /24, IPv6 /48) holds at most four sources' share: a ninth connection from a fifth address of 127.0.0.0/24 is closed")
    func perNetworkCap() async throws {
        try await Self.withLiveBroker(ConnectionLimits(idleTimeout: 60, maxConnections: 100, maxPerSource: 2)) { port in
            var held: [Int32] = []
            defer { held.forEach { close($0) } }
            for source in ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"] {
                for _ in 0..<2 { held.append(try Self.connect(port, from: source)) }
            }
            try await Task.sleep(for: .milliseconds(300))
            let extra = try Self.connect(port, from: "127.0.0.6", timeout: 5)
            defer { close(extra) }
            #expect(Self.closedByBroker(extra), "a ninth connection from 127.0.0.0/24 was kept")
            var byte: UInt8 = 0
            for fd in held {
                var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                #expect(recv(fd, &byte, 1, 0) == -1, "a connection within the caps was closed")
            }
        }
    }

    @Test("a request whose body comes a byte at a time is cut off RequestTimeout after its head, although each byte restarts the idle timer")
    func tricklingRequestIsCut() async throws {
        try await Self.withLiveBroker(ConnectionLimits(idleTimeout: 60, requestTimeout: 2, maxConnections: 100, maxPerSource: 100)) { port in
            // openssl s_client as the TLS client; a request head, then one body byte every 300 ms.
            let client = Process()
            client.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            client.arguments = ["s_client", "-quiet", "-connect", "127.0.0.1:\(port)"]
            let input = Pipe(), output = Pipe()
            client.standardInput = input
            client.standardOutput = output
            client.standardError = FileHandle.nullDevice
            try client.run()
            defer { if client.isRunning { client.terminate() } }
            let started = ContinuousClock.now
            input.fileHandleForWriting.write(Data("POST /v1/enrollments HTTP/1.1\r\nHost: broker\r\nContent-Length: 60000\r\n\r\n".utf8))
            while client.isRunning, ContinuousClock.now - started < .seconds(20) {
                input.fileHandleForWriting.write(Data("x".utf8))
                try await Task.sleep(for: .milliseconds(300))
            }
            // The broker closed the connection, and s_client ended with it.
            #expect(!client.isRunning, "the trickling request was still open after 20 s")
        }
    }

    @Test("the configuration keys: IdleTimeout, RequestTimeout, MaxConnections, MaxConnectionsPerSource; defaults 30 s, 30 s, 4096, 32")
    func configuration() throws {
        #expect(BrokerConfiguration().connectionLimits == ConnectionLimits(idleTimeout: 30, requestTimeout: 30, maxConnections: 4_096, maxPerSource: 32))
        #expect(throws: (any Error).self) { try BrokerConfiguration(parsing: "RequestTimeout 0\n", path: "t.conf") }
        let parsed = try BrokerConfiguration(parsing: "IdleTimeout 2m\nRequestTimeout 10s\nMaxConnections 0\nMaxConnectionsPerSource 8\n", path: "t.conf")
        #expect(parsed.connectionLimits == ConnectionLimits(idleTimeout: 120, requestTimeout: 10, maxConnections: 0, maxPerSource: 8))
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
        // Networks: the IPv4 /24 (a mapped address too), the IPv6 /48.
        #expect(SourceKey.network(of: try SocketAddress(ipAddress: "192.0.2.7", port: 1)) == "192.0.2.0/24")
        #expect(SourceKey.network(of: try SocketAddress(ipAddress: "::ffff:192.0.2.99", port: 1)) == "192.0.2.0/24")
        #expect(SourceKey.network(of: try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1))
                == SourceKey.network(of: try SocketAddress(ipAddress: "2001:db8:1:ffff::9", port: 1)))
        #expect(SourceKey.network(of: try SocketAddress(ipAddress: "2001:db8:1::1", port: 1))
                != SourceKey.network(of: try SocketAddress(ipAddress: "2001:db8:2::1", port: 1)))
    }
}
