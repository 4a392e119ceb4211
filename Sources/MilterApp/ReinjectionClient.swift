import FedMailCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a re-injection failed; the whole message is then tempfailed.
public struct ReinjectionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A small SMTP client that hands a sealed copy to the local re-injection
/// service (`Reinject inet:PORT@HOST`, a Postfix smtpd without milters):
/// EHLO, MAIL FROM, one RCPT TO per sealed recipient, DATA with
/// dot-stuffing, QUIT. Plain TCP on a trusted local service; every read and
/// write has a timeout, so a stuck service fails the message (tempfail)
/// well within the MTA's milter timeout.
public struct ReinjectionClient: Sendable {
    public var host: String
    public var port: Int
    /// The EHLO name.
    public var heloName: String
    /// Seconds for connect and for each reply.
    public var timeout: Int

    public init(host: String, port: Int, heloName: String, timeout: Int = 30) {
        self.host = host
        self.port = port
        self.heloName = heloName
        self.timeout = timeout
    }

    /// Creates a client for a `Reinject` socket specification.
    public init?(spec: SocketSpec, heloName: String, timeout: Int = 30) {
        switch spec {
        case .inet(let port, let host?), .inet6(let port, let host?):
            self.init(host: host, port: port, heloName: heloName, timeout: timeout)
        default:
            return nil
        }
    }

    /// Sends the message in the file at `path` (header and body, CRLF or LF
    /// line ends) from `sender` to `recipients`; returns the server's final reply.
    ///
    /// - Throws: ``ReinjectionError`` when the service cannot be reached,
    ///   refuses a command or a recipient, or does not answer in time.
    @discardableResult
    public func send(messageAt path: String, sender: String, recipients: [String]) throws(ReinjectionError) -> String {
        guard !recipients.isEmpty else { throw ReinjectionError("no recipients to re-inject") }
        let connection = try SMTPConnection(host: host, port: port, timeout: timeout)
        defer { connection.close() }
        try connection.expect(2, after: nil)
        try connection.expect(2, after: "EHLO \(heloName)")
        try connection.expect(2, after: "MAIL FROM:<\(Self.bare(sender))>")
        for recipient in recipients {
            try connection.expect(2, after: "RCPT TO:<\(Self.bare(recipient))>")
        }
        try connection.expect(3, after: "DATA")
        try connection.sendDotStuffed(fileAt: path)
        let reply = try connection.expect(2, after: ".")
        _ = try? connection.expect(2, after: "QUIT")
        return reply
    }

    static func bare(_ address: String) -> String {
        var text = Substring(address)
        if text.hasPrefix("<"), text.hasSuffix(">"), text.count >= 2 { text = text.dropFirst().dropLast() }
        return String(text.filter { $0 != "\r" && $0 != "\n" })
    }
}

/// One SMTP connection over a blocking socket with timeouts.
final class SMTPConnection {
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []
    private let name: String

    init(host: String, port: Int, timeout: Int) throws(ReinjectionError) {
        name = "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw ReinjectionError("cannot resolve re-injection host \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            let socketFD = socket(current.pointee.ai_family, current.pointee.ai_socktype, current.pointee.ai_protocol)
            if socketFD >= 0 {
                var tv = timeval(tv_sec: timeout, tv_usec: 0)
                setsockopt(socketFD, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(socketFD, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if connect(socketFD, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0 {
                    fd = socketFD
                    return
                }
                lastError = String(cString: strerror(errno))
                Glibc.close(socketFD)
            }
            entry = current.pointee.ai_next
        }
        throw ReinjectionError("cannot connect to the re-injection service \(name): \(lastError)")
    }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    /// Sends `command` (when given) and reads the reply; throws unless its
    /// first digit is `digit`. Returns the reply text.
    @discardableResult
    func expect(_ digit: Int, after command: String?) throws(ReinjectionError) -> String {
        if let command { try write(Array((command + "\r\n").utf8)) }
        let reply = try readReply()
        guard let first = reply.first, first.wholeNumberValue == digit else {
            throw ReinjectionError("re-injection service \(name) answered '\(reply)' to \(command.map { $0.split(separator: ":").first.map(String.init) ?? $0 } ?? "the greeting")")
        }
        return reply
    }

    /// Writes the file with SMTP dot-stuffing and CRLF line ends, then a
    /// final CRLF if the file did not end with a line end.
    func sendDotStuffed(fileAt path: String) throws(ReinjectionError) {
        let input = open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw ReinjectionError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(input) }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var out: [UInt8] = []
        out.reserveCapacity(70_000)
        var atLineStart = true
        var previous: UInt8 = 10
        while true {
            let count = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw ReinjectionError("reading \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            for index in 0..<count {
                let byte = chunk[index]
                if atLineStart, byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
                if byte == 10, previous != 13 { out.append(13) }
                out.append(byte)
                atLineStart = byte == 10
                previous = byte
            }
            try write(out)
            out.removeAll(keepingCapacity: true)
        }
        if !atLineStart { try write([13, 10]) }
    }

    private func write(_ bytes: [UInt8]) throws(ReinjectionError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent < 0, errno == EINTR { continue }
            guard sent > 0 else {
                throw ReinjectionError("writing to the re-injection service \(name): \(String(cString: strerror(errno)))")
            }
            offset += sent
        }
    }

    private func readLine() throws(ReinjectionError) -> String {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count < 65_536 else { throw ReinjectionError("re-injection service \(name) sent an over-long line") }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                throw ReinjectionError(count == 0 ? "re-injection service \(name) closed the connection"
                                       : "no answer from the re-injection service \(name): \(String(cString: strerror(errno)))")
            }
            buffer += chunk[0..<count]
        }
    }

    private func readReply() throws(ReinjectionError) -> String {
        var lines: [String] = []
        while true {
            let line = try readLine()
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { break }
            guard lines.count < 100 else { throw ReinjectionError("re-injection service \(name) sent too long a reply") }
        }
        return lines.joined(separator: " / ")
    }
}
