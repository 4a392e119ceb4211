#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FedMailCore

/// One stream connection to clamd over a unix or TCP socket, with every
/// wait bounded by `poll(2)`. Owns its file descriptor and closes it when
/// it goes away. The C socket calls of the module live here only.
final class ClamdSocket {
    private var descriptor: Int32
    /// The address as written, for messages.
    let address: String

    /// Connects to `spec` within `timeout`.
    /// - Throws: ``ScanError`` `connectFailed` or `timedOut`.
    init(connectingTo spec: SocketSpec, timeout: Duration) throws(ScanError) {
        address = spec.description
        descriptor = -1
        let deadline = ContinuousClock.now + timeout
        switch spec {
        case .unix(let path):
            try connectUnix(path: path, deadline: deadline)
        case .inet(let port, let host):
            try connectTCP(host: host ?? "127.0.0.1", port: port, family: AF_INET, deadline: deadline)
        case .inet6(let port, let host):
            try connectTCP(host: host ?? "::1", port: port, family: AF_INET6, deadline: deadline)
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    // MARK: connecting

    private func connectUnix(path: String, deadline: ContinuousClock.Instant) throws(ScanError) {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw ScanError(code: .invalidAddress, message: "clamd socket path \(path) is too long")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw Self.failure(.connectFailed, "cannot create a socket for clamd at \(address)") }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let status = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        try finishConnect(fd: fd, status: status, deadline: deadline)
    }

    private func connectTCP(host: String, port: Int, family: Int32, deadline: ContinuousClock.Instant) throws(ScanError) {
        var hints = addrinfo()
        hints.ai_family = family
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = status == 0 ? "no address" : String(cString: gai_strerror(status))
            throw ScanError(code: .connectFailed, message: "cannot resolve clamd host '\(host)' of \(address): \(reason)")
        }
        defer { freeaddrinfo(first) }
        var lastError = ScanError(code: .connectFailed, message: "no address to connect to for clamd at \(address)")
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let entry = current {
            current = entry.pointee.ai_next
            let fd = socket(entry.pointee.ai_family, entry.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                            entry.pointee.ai_protocol)
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

    /// Completes a non-blocking connect; on success the socket is ours, on
    /// failure `fd` is closed.
    private func finishConnect(fd: Int32, status: Int32, deadline: ContinuousClock.Instant) throws(ScanError) {
        if status == 0 {
            descriptor = fd
            return
        }
        let started = errno
        guard started == EINPROGRESS || started == EINTR else {
            close(fd)
            throw ScanError(code: .connectFailed, message: "cannot connect to clamd at \(address): \(Self.text(started))")
        }
        guard Self.wait(fd: fd, for: Int16(POLLOUT), until: deadline) else {
            close(fd)
            throw ScanError(code: .timedOut, message: "clamd at \(address) did not accept the connection in time")
        }
        var socketError: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &size)
        guard socketError == 0 else {
            close(fd)
            throw ScanError(code: .connectFailed, message: "cannot connect to clamd at \(address): \(Self.text(socketError))")
        }
        descriptor = fd
    }

    // MARK: I/O

    /// Sends every byte within `timeout`.
    /// - Throws: ``ScanError`` `timedOut`, or `connectionClosed` when clamd
    ///   hung up (it may have left a reply to read).
    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws(ScanError) {
        guard let base = bytes.baseAddress else { return }
        let deadline = ContinuousClock.now + timeout
        var offset = 0
        while offset < bytes.count {
            let sent = send(descriptor, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if sent > 0 {
                offset += sent
                continue
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                guard Self.wait(fd: descriptor, for: Int16(POLLOUT), until: deadline) else {
                    throw ScanError(code: .timedOut, message: "clamd at \(address) stopped taking data (write timeout)")
                }
                continue
            }
            throw ScanError(code: .connectionClosed, message: "clamd at \(address) closed the connection while data was sent: \(Self.text(code))")
        }
    }

    /// Sends every byte of `bytes`.
    func write(_ bytes: [UInt8], timeout: Duration) throws(ScanError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(ScanError) in try write(raw, timeout: timeout) } }
        try result.get()
    }

    /// Whether clamd has already written something (e.g. an early
    /// `size limit exceeded`) or hung up, without waiting.
    func hasPendingInput() -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0 && entry.revents != 0
    }

    /// Reads one NUL-terminated reply (or what arrives before clamd closes).
    /// - Throws: ``ScanError`` `timedOut`, or `connectionClosed` when
    ///   nothing came before the connection closed.
    func receiveReply(timeout: Duration, limit: Int = 64 * 1024) throws(ScanError) -> String {
        let deadline = ContinuousClock.now + timeout
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if got > 0 {
                if let nul = buffer[0..<got].firstIndex(of: 0) {
                    reply.append(contentsOf: buffer[0..<nul])
                    break
                }
                reply.append(contentsOf: buffer[0..<got])
                if reply.count > limit {
                    throw ScanError(code: .protocolError, message: "clamd at \(address) sent a reply longer than \(limit) bytes")
                }
                continue
            }
            if got == 0 {
                if reply.isEmpty {
                    throw ScanError(code: .connectionClosed, message: "clamd at \(address) closed the connection without an answer")
                }
                break
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                guard Self.wait(fd: descriptor, for: Int16(POLLIN), until: deadline) else {
                    throw ScanError(code: .timedOut, message: "clamd at \(address) did not answer in time (read timeout)")
                }
                continue
            }
            if !reply.isEmpty { break }
            throw ScanError(code: .connectionClosed, message: "clamd at \(address) closed the connection without an answer: \(Self.text(code))")
        }
        return String(decoding: reply, as: UTF8.self)
    }

    // MARK: helpers

    /// Waits until `fd` is ready for `events` or the deadline passes.
    private static func wait(fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
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

    private static func text(_ code: Int32) -> String { String(cString: strerror(code)) }

    private static func failure(_ code: ScanError.Code, _ message: String) -> ScanError {
        ScanError(code: code, message: "\(message): \(text(errno))")
    }
}
