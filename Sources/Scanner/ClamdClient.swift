#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FedMailCore

/// A client of clamd (ClamAV's scanning daemon) over its unix or TCP socket.
///
/// Every call opens its own connection, so one client can be shared by
/// any number of threads (e.g. libmilter's). Calls block the calling thread
/// at most for the configured timeouts. Messages are streamed with
/// `INSTREAM` in chunks: a large spooled message is never held in memory.
///
/// ```swift
/// let clamd = try ClamdClient(address: "unix:/run/clamav/clamd.ctl")
/// switch clamd.scan(fileAt: "/var/spool/msg.eml") {
/// case .clean: …
/// case .infected(let signature): …
/// case .error(let error): … // error.code == .sizeLimitExceeded, .timedOut, …
/// }
/// ```
public struct ClamdClient: Sendable {
    /// Timeouts and limits of a client.
    public struct Options: Sendable, Hashable {
        /// How long to wait for clamd to accept a connection. Default 5 s.
        public var connectTimeout: Duration = .seconds(5)
        /// How long one write may wait for clamd to take data. Default 30 s.
        public var writeTimeout: Duration = .seconds(30)
        /// How long to wait for the verdict after the last byte. Default 120 s
        /// (clamd's own MaxScanTime default is 120 s).
        public var replyTimeout: Duration = .seconds(120)
        /// Bytes per `INSTREAM` chunk. Default 64 KiB.
        public var chunkSize: Int = 64 * 1024
        /// Refuse streams longer than this without waiting for clamd to do it
        /// (set it to clamd's `StreamMaxLength`); `nil` leaves it to clamd.
        public var maximumStreamLength: Int?
        /// The longest one whole scan may take, from connecting to the
        /// verdict, whatever the single waits above allow (a milter must
        /// answer its MTA in time); `nil` bounds only the single waits.
        public var scanTimeout: Duration?

        public init() {}
    }

    /// Where clamd listens.
    public let address: SocketSpec
    /// Timeouts and limits.
    public var options: Options

    /// A client for clamd at `address`.
    public init(address: SocketSpec, options: Options = Options()) {
        self.address = address
        self.options = options
    }

    /// A client for clamd at `address`: `unix:/path` (or `local:/path`, or a
    /// bare absolute path) or `inet:PORT@HOST` / `inet6:PORT@HOST`, as
    /// clamd's `LocalSocket` / `TCPSocket`+`TCPAddr` and the milter's `Socket`.
    /// - Throws: ``ScanError`` `invalidAddress`.
    public init(address text: String, options: Options = Options()) throws(ScanError) {
        do {
            self.init(address: try SocketSpec(parsing: text), options: options)
        } catch {
            throw ScanError(code: .invalidAddress, message: "clamd address: \(error.message)")
        }
    }

    // MARK: commands

    /// `PING`: whether clamd answers `PONG`.
    /// - Throws: ``ScanError`` when it cannot be reached or answers otherwise.
    public func ping() throws(ScanError) {
        let reply = try command("zPING")
        guard reply == "PONG" else {
            throw ScanError(code: .protocolError, message: "clamd at \(address) answered '\(reply.prefix(200))' to PING")
        }
    }

    /// `VERSION`: the engine and database versions, for the control flag.
    /// - Throws: ``ScanError`` when it cannot be reached or answers otherwise.
    public func version() throws(ScanError) -> ClamdVersion {
        let reply = try command("zVERSION")
        guard let version = ClamdVersion(reply: reply) else {
            throw ScanError(code: .protocolError, message: "clamd at \(address) answered '\(reply.prefix(200))' to VERSION")
        }
        return version
    }

    /// Scans what `produce` writes into the stream (`INSTREAM`).
    ///
    /// `produce` is called once with the open stream and writes the message
    /// in as many pieces as it likes (e.g. the header bytes, then each chunk
    /// of a spooled body); errors it throws other than the stream's own end
    /// the scan with `unreadableInput`.
    ///
    /// - Returns: the verdict; failures are ``ScanResult/error(_:)``, never thrown.
    public func scan(_ produce: (ClamdStream) throws -> Void) -> ScanResult {
        let deadline = options.scanTimeout.map { ContinuousClock.now + $0 }
        let socket: ClamdSocket
        do {
            socket = try ClamdSocket(connectingTo: address, timeout: Self.bounded(options.connectTimeout, by: deadline))
            try socket.write(Array("zINSTREAM\0".utf8), timeout: Self.bounded(options.writeTimeout, by: deadline))
        } catch {
            return .error(error)
        }
        let stream = ClamdStream(socket: socket, chunkSize: options.chunkSize, writeTimeout: options.writeTimeout,
                                 maximumLength: options.maximumStreamLength, deadline: deadline)
        do {
            try produce(stream)
            try stream.finish()
        } catch is ClamdStream.Stop {
            // clamd answered (or hung up) early: read what it said below.
        } catch let error as ScanError {
            return .error(error)
        } catch {
            return .error(ScanError(code: .unreadableInput, message: "reading the message to scan: \(error)"))
        }
        // After an early stop the reply is already there or never comes.
        let wait = stream.stoppedEarly ? min(options.replyTimeout, .seconds(5)) : options.replyTimeout
        do {
            let reply = try socket.receiveReply(timeout: Self.bounded(wait, by: deadline))
            return ClamdReply.scanResult(reply, address: address.description)
        } catch {
            return .error(error)
        }
    }

    /// Scans a byte buffer.
    public func scan(bytes: [UInt8]) -> ScanResult {
        scan { try $0.write(bytes) }
    }

    /// Scans a file, reading it in chunks (never whole).
    public func scan(fileAt path: String) -> ScanResult {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return .error(ScanError(code: .unreadableInput, message: "cannot read \(path): \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        if let limit = options.maximumStreamLength {
            var info = stat()
            if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) > limit {
                return .error(ScanError(code: .sizeLimitExceeded,
                                        message: "\(path) (\(info.st_size) bytes) is larger than the configured clamd stream limit of \(limit) bytes"))
            }
        }
        return scan(fileDescriptor: fd, name: path)
    }

    /// Scans everything readable from an open file descriptor (a file, a
    /// pipe, standard input), in chunks. The descriptor stays open.
    public func scan(fileDescriptor fd: Int32, name: String = "input") -> ScanResult {
        var buffer = [UInt8](repeating: 0, count: max(4096, options.chunkSize))
        return scan { stream in
            while true {
                let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if got < 0 {
                    if errno == EINTR { continue }
                    throw ScanError(code: .unreadableInput, message: "reading \(name): \(String(cString: strerror(errno)))")
                }
                if got == 0 { return }
                try buffer.withUnsafeBytes { try stream.write(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            }
        }
    }

    // MARK: plumbing

    /// `timeout`, shortened to what is left until `deadline` (never negative).
    static func bounded(_ timeout: Duration, by deadline: ContinuousClock.Instant?) -> Duration {
        guard let deadline else { return timeout }
        return max(.zero, min(timeout, deadline - ContinuousClock.now))
    }

    /// Sends a `z` (NUL-terminated) command and reads its one reply.
    private func command(_ name: String) throws(ScanError) -> String {
        let socket = try ClamdSocket(connectingTo: address, timeout: options.connectTimeout)
        try socket.write(Array((name + "\0").utf8), timeout: options.writeTimeout)
        return try socket.receiveReply(timeout: options.replyTimeout).trimmingCharacters(in: ["\n", "\r", " "])
    }
}
