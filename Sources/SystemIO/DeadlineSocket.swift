#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One stream connection (Unix or TCP) whose every wait is bounded by a
/// deadline through `poll(2)`: connecting, sending and receiving. Owns its
/// descriptor and closes it when it goes away. The clamd client and the
/// re-injection client both talk through it.
public final class DeadlineSocket {
    private var descriptor: Int32 = -1
    /// The peer as written, for messages.
    public let peer: String

    /// Connects to the Unix socket at `path` before `deadline`.
    public init(unixPath path: String, deadline: ContinuousClock.Instant) throws(SystemIOError) {
        peer = path
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw SystemIOError(.invalidAddress, "socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Self.streamType, 0)
        guard fd >= 0 else { throw SystemIOError(.connectFailed, "cannot create a socket for \(peer): \(SystemCalls.text(errno))") }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let status = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        try finishConnect(fd: fd, status: status, deadline: deadline)
    }

    /// Which addresses of a host to try.
    public enum AddressFamily: Sendable {
        case ipv4, ipv6, any

        var value: Int32 {
            switch self {
            case .ipv4: AF_INET
            case .ipv6: AF_INET6
            case .any: AF_UNSPEC
            }
        }
    }

    /// Connects to `host` (a numeric address or a name) on `port` before
    /// `deadline`, trying each address of `family` in turn.
    public init(host: String, port: Int, family: AddressFamily, deadline: ContinuousClock.Instant) throws(SystemIOError) {
        peer = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_family = family.value
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = status == 0 ? "no address" : String(cString: gai_strerror(status))
            throw SystemIOError(.invalidAddress, "cannot resolve '\(host)' of \(peer): \(reason)")
        }
        defer { freeaddrinfo(first) }
        var lastError = SystemIOError(.connectFailed, "no address to connect to for \(peer)")
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let entry = current {
            current = entry.pointee.ai_next
            let fd = socket(entry.pointee.ai_family, entry.pointee.ai_socktype | Self.flags, entry.pointee.ai_protocol)
            if fd < 0 { continue }
            let result = connect(fd, entry.pointee.ai_addr, entry.pointee.ai_addrlen)
            do {
                try finishConnect(fd: fd, status: result, deadline: deadline)
                return
            } catch {
                lastError = error
                if error.code == .timedOut { throw error }
            }
        }
        throw lastError
    }

    deinit { if descriptor >= 0 { SystemCalls.close(descriptor) } }

    private static let flags = Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
    private static let streamType = Int32(SOCK_STREAM.rawValue) | flags

    /// Completes a non-blocking connect; on success the socket is ours, on
    /// failure `fd` is closed.
    private func finishConnect(fd: Int32, status: Int32, deadline: ContinuousClock.Instant) throws(SystemIOError) {
        if status == 0 {
            descriptor = fd
            return
        }
        let started = errno
        guard started == EINPROGRESS || started == EINTR else {
            SystemCalls.close(fd)
            throw SystemIOError(.connectFailed, "cannot connect to \(peer): \(SystemCalls.text(started))")
        }
        guard Self.wait(fd: fd, for: Int16(POLLOUT), until: deadline) else {
            SystemCalls.close(fd)
            throw SystemIOError(.timedOut, "\(peer) did not accept the connection in time")
        }
        var socketError: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &size)
        guard socketError == 0 else {
            SystemCalls.close(fd)
            throw SystemIOError(.connectFailed, "cannot connect to \(peer): \(SystemCalls.text(socketError))")
        }
        descriptor = fd
    }

    /// Sends every byte of `bytes` before `deadline`.
    /// - Throws: `timedOut`, or `connectionClosed` when the peer hung up
    ///   (it may have left a reply to read).
    public func send(_ bytes: UnsafeRawBufferPointer, deadline: ContinuousClock.Instant) throws(SystemIOError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let sent = Self.systemSend(descriptor, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if sent > 0 {
                offset += sent
                continue
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                guard Self.wait(fd: descriptor, for: Int16(POLLOUT), until: deadline) else {
                    throw SystemIOError(.timedOut, "\(peer) stopped taking data (write timeout)")
                }
                continue
            }
            throw SystemIOError(.connectionClosed, "\(peer) closed the connection while data was sent: \(SystemCalls.text(code))")
        }
    }

    /// Sends every byte of `bytes` before `deadline`.
    public func send(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(SystemIOError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(SystemIOError) in try send(raw, deadline: deadline) } }
        try result.get()
    }

    /// Receives what is there (waiting until `deadline` for something):
    /// the bytes read, empty when the peer closed the connection.
    /// - Throws: `timedOut`, or `connectionClosed` on a reset.
    public func receive(upTo count: Int, deadline: ContinuousClock.Instant) throws(SystemIOError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        while true {
            let got = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if got >= 0 { return Array(buffer[0..<got]) }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                guard Self.wait(fd: descriptor, for: Int16(POLLIN), until: deadline) else {
                    throw SystemIOError(.timedOut, "\(peer) did not answer in time (read timeout)")
                }
                continue
            }
            throw SystemIOError(.connectionClosed, "\(peer) closed the connection: \(SystemCalls.text(code))")
        }
    }

    /// Whether the peer has already written something or hung up, without waiting.
    public func hasPendingInput() -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0 && entry.revents != 0
    }

    private static func systemSend(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
        #if canImport(Glibc)
        Glibc.send(fd, buffer, count, flags)
        #else
        Darwin.send(fd, buffer, count, flags)
        #endif
    }

    /// Waits until `fd` is ready for `events` or the deadline passes.
    static func wait(fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = deadline - ContinuousClock.now
            if left <= .zero { return false }
            let (seconds, attoseconds) = left.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return true }  // let the next call report the error
        }
    }
}
