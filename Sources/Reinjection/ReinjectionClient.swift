import FedMailCore
import SystemIO

/// Why a re-injection failed; the whole message is then tempfailed.
public struct ReinjectionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    /// True when the failure came after the end of data was sent and before
    /// the service's reply to it arrived (the connection closed, a write or
    /// the reply timed out): the service may have queued the copy, and only
    /// its reply, lost, would have said so (RFC 1047). False when the
    /// service certainly did not queue it (it refused a command or the end
    /// of data, or the failure came before the end of data).
    public var outcomeUnknown: Bool
    /// A failure of the connection itself (not a refusal by the service).
    var isTransport = false

    public init(_ message: String, outcomeUnknown: Bool = false) {
        self.message = message
        self.outcomeUnknown = outcomeUnknown
    }

    init(transport message: String) {
        self.init(message)
        isTransport = true
    }

    public var description: String { message }
}

/// What the re-injection service answered.
public struct ReinjectionReceipt: Sendable, Hashable {
    /// The final reply (`250 2.0.0 Ok: queued as ...`).
    public var reply: String
    /// DSN parameters left out because the service does not offer DSN.
    public var droppedParameters: [String]
}

/// A small SMTP client that hands a sealed copy to the local re-injection
/// service (`Reinject unix:PATH` or `inet:PORT@HOST`, a Postfix smtpd
/// without milters):
/// EHLO, MAIL FROM, one RCPT TO per sealed recipient (with the ESMTP
/// parameters that travel, see ``ReinjectionEnvelope``), DATA with
/// dot-stuffing, QUIT. Plain SMTP to a trusted local service; connecting,
/// every reply and every write has a timeout, and the whole exchange
/// ``totalTimeout``, so a stuck or trickling service fails the message
/// (tempfail) within the MTA's milter timeout.
public struct ReinjectionClient: Sendable {
    /// Where the re-injection service listens.
    public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
        /// TCP (`inet:PORT@HOST`): any local process can connect.
        case tcp(host: String, port: Int)
        /// A unix socket (`unix:PATH`): file permissions say who may
        /// connect (Postfix's `public/` directory: postfix and postdrop).
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): "\(host):\(port)"
            case .unix(let path): path
            }
        }
    }

    public var endpoint: Endpoint
    /// The EHLO name.
    public var heloName: String
    /// Seconds for connect and for each reply.
    public var timeout: Int
    /// The whole exchange, connect to the reply to the end of data: under
    /// Postfix's 300 s milter content timeout with room for the milter's
    /// own work, whatever the number of recipients and however slowly the
    /// service answers each step.
    public var totalTimeout: Duration = .seconds(240)

    public init(host: String, port: Int, heloName: String, timeout: Int = 30) {
        self.init(endpoint: .tcp(host: host, port: port), heloName: heloName, timeout: timeout)
    }

    public init(endpoint: Endpoint, heloName: String, timeout: Int = 30) {
        self.endpoint = endpoint
        self.heloName = heloName
        self.timeout = timeout
    }

    /// The least time given to the reply to the end of data, seconds.
    static let endOfDataTimeout = 60

    /// Creates a client for a `Reinject` socket specification.
    public init?(spec: SocketSpec, heloName: String, timeout: Int = 30) {
        switch spec {
        case .inet(let port, let host?), .inet6(let port, let host?):
            self.init(host: host, port: port, heloName: heloName, timeout: timeout)
        case .unix(let path):
            self.init(endpoint: .unix(path: path), heloName: heloName, timeout: timeout)
        default:
            return nil
        }
    }

    /// Sends the message in the file at `path` (header and body, CRLF or LF
    /// line ends) with `envelope`: EHLO, MAIL FROM and one RCPT TO per
    /// recipient with the ESMTP parameters that travel (``ReinjectionEnvelope``),
    /// DATA, QUIT.
    ///
    /// - Returns: the server's final reply and the parameters left out
    ///   because the service does not offer DSN.
    /// - Throws: ``ReinjectionError`` when the service cannot be reached,
    ///   refuses a command or a recipient, lacks SMTPUTF8 for an
    ///   internationalized envelope, or does not answer in time; with
    ///   ``ReinjectionError/outcomeUnknown`` set when that happened after
    ///   the end of data, before its reply.
    @discardableResult
    public func send(messageAt path: String, envelope: ReinjectionEnvelope) throws(ReinjectionError) -> ReinjectionReceipt {
        guard !envelope.recipients.isEmpty else { throw ReinjectionError("no recipients to re-inject") }
        let connection = try SMTPConnection(endpoint: endpoint, timeout: timeout, until: ContinuousClock.now + totalTimeout)
        try connection.expect(2, after: nil)
        let ehlo = try connection.expectLines(2, after: "EHLO \(heloName)")
        let commands = try envelope.commands(serviceExtensions: Self.extensions(ofEHLOReply: ehlo))
        try connection.expect(2, after: commands.mail)
        for line in commands.recipients {
            try connection.expect(2, after: line)
        }
        try connection.expect(3, after: "DATA")
        try connection.sendDotStuffed(fileAt: path)
        // From here until the reply, a failure leaves it unknown whether
        // the service queued the copy: the caller must not take it for
        // "not sent" (see ``ReinjectionError/outcomeUnknown``).
        // The service answers the end of data once the copy is on disk
        // (Postfix: cleanup's fsync): a busy or slow disk gets a minute,
        // well under the MTA's 300 s milter content timeout.
        let reply: String
        do { reply = try connection.expect(2, after: ".", timeout: max(timeout, Self.endOfDataTimeout)) } catch where error.isTransport {
            throw ReinjectionError("\(error.message), after the end of data: the service may have queued the copy", outcomeUnknown: true)
        }
        _ = try? connection.expect(2, after: "QUIT")
        return ReinjectionReceipt(reply: reply, droppedParameters: commands.dropped)
    }

    /// Sends the message at `path` from `sender` to `recipients` without ESMTP parameters.
    @discardableResult
    public func send(messageAt path: String, sender: String, recipients: [String]) throws(ReinjectionError) -> String {
        try send(messageAt: path, envelope: ReinjectionEnvelope(sender: sender, recipients: recipients.map { .init(address: $0) })).reply
    }

    /// The extension keywords (upper-cased) of an EHLO reply's lines after the first.
    static func extensions(ofEHLOReply lines: [String]) -> Set<String> {
        var keywords: Set<String> = []
        for line in lines.dropFirst() where line.count > 4 {
            let text = line.dropFirst(4)
            if let word = text.split(separator: " ", maxSplits: 1).first { keywords.insert(word.uppercased()) }
        }
        return keywords
    }
}

/// One SMTP connection to the re-injection service, over SystemIO's
/// ``DeadlineSocket``: connecting and each reply within `timeout`, and
/// everything before `until`.
final class SMTPConnection {
    private let socket: DeadlineSocket
    private var buffer: [UInt8] = []
    private let name: String
    private let timeout: Duration
    /// The end of the whole exchange.
    private let until: ContinuousClock.Instant

    init(endpoint: ReinjectionClient.Endpoint, timeout: Int, until: ContinuousClock.Instant) throws(ReinjectionError) {
        name = endpoint.description
        self.timeout = .seconds(timeout)
        self.until = until
        let deadline = min(ContinuousClock.now + self.timeout, until)
        do {
            switch endpoint {
            case .tcp(let host, let port): socket = try DeadlineSocket(host: host, port: port, family: .any, deadline: deadline)
            case .unix(let path): socket = try DeadlineSocket(unixPath: path, deadline: deadline)
            }
        } catch {
            throw ReinjectionError("cannot connect to the re-injection service \(name): \(error.message)")
        }
    }

    /// Sends `command` (when given) and reads the reply; throws unless its
    /// first digit is `digit`. Returns the reply text.
    @discardableResult
    func expect(_ digit: Int, after command: String?, timeout seconds: Int? = nil) throws(ReinjectionError) -> String {
        try expectLines(digit, after: command, timeout: seconds).joined(separator: " / ")
    }

    /// ``expect(_:after:timeout:)`` returning the reply's lines.
    func expectLines(_ digit: Int, after command: String?, timeout seconds: Int? = nil) throws(ReinjectionError) -> [String] {
        if let command { try write(Array((command + "\r\n").utf8)) }
        let lines = try readReply(timeout: seconds.map { Duration.seconds($0) } ?? timeout)
        let reply = lines.joined(separator: " / ")
        guard let first = reply.first, first.wholeNumberValue == digit else {
            let text = "re-injection service \(name) answered '\(reply)' to \(command.map { $0.split(separator: ":").first.map(String.init) ?? $0 } ?? "the greeting")"
            // 4xx and 5xx refuse; anything else is not SMTP, and says nothing.
            if reply.first == "4" || reply.first == "5" { throw ReinjectionError(text) }
            throw ReinjectionError(transport: text)
        }
        return lines
    }

    /// Writes the file with SMTP dot-stuffing and CRLF line ends, then a
    /// final CRLF if the file did not end with a line end.
    func sendDotStuffed(fileAt path: String) throws(ReinjectionError) {
        let input: Int32
        do { input = try FileIO.openRead(path) } catch { throw ReinjectionError(error.message) }
        defer { FileIO.close(input) }
        var out: [UInt8] = []
        out.reserveCapacity(70_000)
        var atLineStart = true
        var previous: UInt8 = 10
        while true {
            let chunk: [UInt8]
            do { chunk = try FileIO.read(input, count: 65_536, name: path) } catch { throw ReinjectionError(error.message) }
            if chunk.isEmpty { break }
            for byte in chunk {
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
        do { try socket.send(bytes, deadline: min(ContinuousClock.now + timeout, until)) } catch {
            throw ReinjectionError(transport: "writing to the re-injection service \(name): \(error.message)")
        }
    }

    private func readLine(timeout: Duration) throws(ReinjectionError) -> String {
        let deadline = min(ContinuousClock.now + timeout, until)
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count < 65_536 else { throw ReinjectionError(transport: "re-injection service \(name) sent an over-long line") }
            let chunk: [UInt8]
            do { chunk = try socket.receive(upTo: 4096, deadline: deadline) } catch {
                throw ReinjectionError(transport: "no answer from the re-injection service \(name): \(error.message)")
            }
            guard !chunk.isEmpty else { throw ReinjectionError(transport: "re-injection service \(name) closed the connection") }
            buffer += chunk
        }
    }

    private func readReply(timeout: Duration) throws(ReinjectionError) -> [String] {
        var lines: [String] = []
        while true {
            let line = try readLine(timeout: timeout)
            lines.append(line)
            let bytes = Array(line.utf8)
            if bytes.count < 4 || bytes[3] != UInt8(ascii: "-") { break }
            guard lines.count < 100 else { throw ReinjectionError(transport: "re-injection service \(name) sent too long a reply") }
        }
        return lines
    }
}
