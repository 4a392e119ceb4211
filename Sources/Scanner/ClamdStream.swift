/// The data half of one `INSTREAM` scan: what a ``ClamdClient/scan(_:)``
/// producer writes the message into. Frames the bytes into clamd's chunks
/// (4-byte big-endian length, then the data), never holding more than one
/// chunk, and stops early when clamd answers before the end (size limit).
public final class ClamdStream {
    private let socket: ClamdSocket
    private let chunkSize: Int
    private let writeTimeout: Duration
    private let maximumLength: Int?
    private let deadline: ContinuousClock.Instant?
    private var frame: [UInt8]
    private var pending = 0
    /// Bytes written so far.
    public private(set) var count = 0
    /// Set when clamd answered or hung up before the stream ended.
    private(set) var stoppedEarly = false

    init(socket: ClamdSocket, chunkSize: Int, writeTimeout: Duration, maximumLength: Int?,
         deadline: ContinuousClock.Instant? = nil) {
        self.socket = socket
        self.deadline = deadline
        self.chunkSize = max(1, chunkSize)
        self.writeTimeout = writeTimeout
        self.maximumLength = maximumLength
        frame = [UInt8](repeating: 0, count: 4 + self.chunkSize)
    }

    /// Thrown inside the producer to end it when clamd has already answered.
    struct Stop: Error {}

    /// Appends bytes to the stream.
    ///
    /// - Throws: an internal stop signal when clamd answered early (let it
    ///   propagate out of the producer; ``ClamdClient/scan(_:)`` turns it into
    ///   the verdict), or ``ScanError``.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if stoppedEarly { throw Stop() }
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        var offset = 0
        while offset < bytes.count {
            let take = min(chunkSize - pending, bytes.count - offset)
            let at = 4 + pending
            frame.withUnsafeMutableBytes { raw in
                UnsafeMutableRawBufferPointer(rebasing: raw[at..<(at + take)])
                    .copyMemory(from: UnsafeRawBufferPointer(start: source + offset, count: take))
            }
            pending += take
            offset += take
            if pending == chunkSize { try flush() }
        }
    }

    /// Appends bytes to the stream.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Sends the buffered partial chunk, if any.
    func flush() throws {
        guard pending > 0 else { return }
        if let maximumLength, count + pending > maximumLength {
            throw ScanError(code: .sizeLimitExceeded,
                            message: "the message is larger than the configured clamd stream limit of \(maximumLength) bytes")
        }
        let length = UInt32(pending)
        frame[0] = UInt8(truncatingIfNeeded: length >> 24)
        frame[1] = UInt8(truncatingIfNeeded: length >> 16)
        frame[2] = UInt8(truncatingIfNeeded: length >> 8)
        frame[3] = UInt8(truncatingIfNeeded: length)
        let size = 4 + pending
        guard try sendFrame(size: size) else {
            stoppedEarly = true
            throw Stop()
        }
        count += pending
        pending = 0
        if socket.hasPendingInput() {
            stoppedEarly = true
            throw Stop()
        }
    }

    /// Sends the first `size` bytes of the frame buffer.
    /// - Returns: `false` when clamd closed the connection (it may have left
    ///   a reply); other failures (timeouts) are thrown.
    private func sendFrame(size: Int) throws(ScanError) -> Bool {
        let socket = self.socket
        let timeout = ClamdClient.bounded(writeTimeout, by: deadline)
        let result: Result<Void, ScanError> = frame.withUnsafeBytes { raw in
            do throws(ScanError) {
                try socket.write(UnsafeRawBufferPointer(rebasing: raw[0..<size]), timeout: timeout)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success: return true
        case .failure(let error):
            if error.code == .connectionClosed { return false }
            throw error
        }
    }

    /// Sends the rest and the zero-length chunk that ends the stream.
    func finish() throws {
        try flush()
        frame[0] = 0; frame[1] = 0; frame[2] = 0; frame[3] = 0
        if !(try sendFrame(size: 4)) { stoppedEarly = true }
    }
}
