#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One connected UDP socket to a numeric address, whose every receive is
/// bounded by a deadline through `poll(2)`. Connecting the socket makes the
/// kernel choose a random source port and drop datagrams from any other peer.
/// Owns its descriptor and closes it when it goes away. The broker's DNS
/// client talks through it.
public final class DatagramSocket {
    private let descriptor: Int32
    /// The peer as written, for messages.
    public let peer: String

    /// Opens a UDP socket connected to the numeric address `host` (IPv4 or IPv6) and `port`.
    public init(numericHost host: String, port: Int) throws(SystemIOError) {
        peer = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let entry = list else {
            let reason = status == 0 ? "no address" : String(cString: gai_strerror(status))
            throw SystemIOError(.invalidAddress, "'\(host)' is not a numeric address (\(reason))")
        }
        defer { freeaddrinfo(entry) }
        let flags = Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let fd = socket(entry.pointee.ai_family, entry.pointee.ai_socktype | flags, entry.pointee.ai_protocol)
        guard fd >= 0 else { throw SystemIOError(.connectFailed, "cannot create a UDP socket for \(peer): \(SystemCalls.text(errno))") }
        guard connect(fd, entry.pointee.ai_addr, entry.pointee.ai_addrlen) == 0 else {
            let code = errno
            SystemCalls.close(fd)
            throw SystemIOError(.connectFailed, "cannot connect a UDP socket to \(peer): \(SystemCalls.text(code))", errorNumber: code)
        }
        descriptor = fd
    }

    deinit { SystemCalls.close(descriptor) }

    /// Sends one datagram.
    public func send(_ bytes: [UInt8]) throws(SystemIOError) {
        while true {
            let sent = bytes.withUnsafeBytes { SystemCalls.write(descriptor, $0.baseAddress, $0.count) }
            if sent == bytes.count { return }
            let code = errno
            if sent < 0 && code == EINTR { continue }
            throw SystemIOError(.connectionClosed, "cannot send a datagram to \(peer): \(sent < 0 ? SystemCalls.text(code) : "short write")")
        }
    }

    /// Receives one datagram, waiting until `deadline`. A datagram longer than `count`
    /// octets comes back cut to `count + 1` octets, so the caller can tell and refuse it.
    /// - Throws: `timedOut`, or `connectionClosed` when the peer refused (ICMP port unreachable).
    public func receive(upTo count: Int, deadline: ContinuousClock.Instant) throws(SystemIOError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count + 1)
        while true {
            let got = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if got >= 0 { return Array(buffer[0..<got]) }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                guard DeadlineSocket.wait(fd: descriptor, for: Int16(POLLIN), until: deadline) else {
                    throw SystemIOError(.timedOut, "\(peer) did not answer in time")
                }
                continue
            }
            throw SystemIOError(.connectionClosed, "\(peer) refused the datagram: \(SystemCalls.text(code))", errorNumber: code)
        }
    }
}
