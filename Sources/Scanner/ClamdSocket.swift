import FedMailCore
import SystemIO

/// One stream connection to clamd over a unix or TCP socket: SystemIO's
/// ``DeadlineSocket`` (every wait bounded), with its failures told as
/// ``ScanError``s that name clamd.
final class ClamdSocket {
    private let socket: DeadlineSocket
    /// The address as written, for messages.
    let address: String

    /// Connects to `spec` within `timeout`.
    /// - Throws: ``ScanError`` `connectFailed`, `invalidAddress` or `timedOut`.
    init(connectingTo spec: SocketSpec, timeout: Duration) throws(ScanError) {
        address = spec.description
        let deadline = ContinuousClock.now + timeout
        do {
            switch spec {
            case .unix(let path):
                socket = try DeadlineSocket(unixPath: path, deadline: deadline)
            case .inet(let port, let host):
                socket = try DeadlineSocket(host: host ?? "127.0.0.1", port: port, family: .ipv4, deadline: deadline)
            case .inet6(let port, let host):
                socket = try DeadlineSocket(host: host ?? "::1", port: port, family: .ipv6, deadline: deadline)
            }
        } catch {
            // An unresolvable host may resolve later (retryable); a unix
            // path too long never will.
            let isUnix = if case .unix = spec { true } else { false }
            let code: ScanError.Code = switch error.code {
            case .invalidAddress: isUnix ? .invalidAddress : .connectFailed
            case .timedOut: .timedOut
            default: .connectFailed
            }
            throw ScanError(code: code, message: "clamd at \(address): \(error.message)")
        }
    }

    /// Sends every byte within `timeout`.
    /// - Throws: ``ScanError`` `timedOut`, or `connectionClosed` when clamd
    ///   hung up (it may have left a reply to read).
    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws(ScanError) {
        do { try socket.send(bytes, deadline: ContinuousClock.now + timeout) } catch {
            throw failure(error, while: "data was sent")
        }
    }

    /// Sends every byte of `bytes`.
    func write(_ bytes: [UInt8], timeout: Duration) throws(ScanError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(ScanError) in try write(raw, timeout: timeout) } }
        try result.get()
    }

    /// Whether clamd has already written something (e.g. an early
    /// `size limit exceeded`) or hung up, without waiting.
    func hasPendingInput() -> Bool { socket.hasPendingInput() }

    /// Reads one NUL-terminated reply (or what arrives before clamd closes).
    /// - Throws: ``ScanError`` `timedOut`, or `connectionClosed` when
    ///   nothing came before the connection closed.
    func receiveReply(timeout: Duration, limit: Int = 64 * 1024) throws(ScanError) -> String {
        let deadline = ContinuousClock.now + timeout
        var reply: [UInt8] = []
        while true {
            let chunk: [UInt8]
            do { chunk = try socket.receive(upTo: 4096, deadline: deadline) } catch {
                if error.code == .connectionClosed, !reply.isEmpty { break }
                if error.code == .timedOut {
                    throw ScanError(code: .timedOut, message: "clamd at \(address) did not answer in time (read timeout)")
                }
                throw ScanError(code: .connectionClosed, message: "clamd at \(address) closed the connection without an answer: \(error.message)")
            }
            if chunk.isEmpty {
                if reply.isEmpty {
                    throw ScanError(code: .connectionClosed, message: "clamd at \(address) closed the connection without an answer")
                }
                break
            }
            if let nul = chunk.firstIndex(of: 0) {
                reply.append(contentsOf: chunk[..<nul])
                break
            }
            reply.append(contentsOf: chunk)
            if reply.count > limit {
                throw ScanError(code: .protocolError, message: "clamd at \(address) sent a reply longer than \(limit) bytes")
            }
        }
        return String(decoding: reply, as: UTF8.self)
    }

    private func failure(_ error: SystemIOError, while doing: String) -> ScanError {
        switch error.code {
        case .timedOut: ScanError(code: .timedOut, message: "clamd at \(address) stopped taking data (write timeout)")
        default: ScanError(code: .connectionClosed, message: "clamd at \(address) closed the connection while \(doing): \(error.message)")
        }
    }
}
