import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// TEST DOUBLE, for failure injection only: a unix socket that stands in
/// for a misbehaving clamd (one that never answers, answers garbage, hangs
/// up, or answers before the stream ends). Clean/infected/size-limit
/// behaviour is tested against the real clamd in contrib/test/t-clamd.sh.
final class MisbehavingClamd: @unchecked Sendable {
    enum Behavior: Sendable {
        /// Never accepts: the kernel backlog completes connects, nobody reads or answers.
        case neverAnswer
        /// Accepts, reads `after` bytes, writes `reply` (NUL added), closes.
        case answer(String, after: Int)
        /// Accepts and closes at once.
        case hangUp
    }

    let directory: String
    let path: String
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)
    private let behavior: Behavior

    init(_ behavior: Behavior) throws {
        self.behavior = behavior
        var template = Array("/tmp/fm-scan-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw POSIXError(.EIO)
        }
        directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        path = directory + "/clamd.sock"
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        if case .neverAnswer = behavior {
            done.signal()
            return
        }
        let fd = listener
        let finished = done
        Thread.detachNewThread {
            let client = accept(fd, nil, nil)
            defer { if client >= 0 { close(client) }; finished.signal() }
            guard client >= 0 else { return }
            switch behavior {
            case .neverAnswer, .hangUp:
                return
            case .answer(let reply, let after):
                var received = 0
                var buffer = [UInt8](repeating: 0, count: 4096)
                while received < after {
                    let n = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, min($0.count, after - received)) }
                    if n <= 0 { return }
                    received += n
                }
                let out = Array(reply.utf8) + [0]
                _ = out.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            }
        }
    }

    /// The address in the client's syntax.
    var address: String { "unix:" + path }

    deinit {
        close(listener)
        _ = done.wait(timeout: .now() + 5)
        unlink(path)
        rmdir(directory)
    }
}
