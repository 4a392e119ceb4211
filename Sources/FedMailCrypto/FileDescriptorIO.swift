import Foundation

/// Chunked POSIX I/O so large messages never sit whole in memory.
enum FileDescriptorIO {
    static let chunkSize = 1 << 20

    static func writeAll(fd: Int32, _ bytes: [UInt8], name: String) throws(CryptoError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CryptoError(code: .io, message: "writing \(name): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    static func writeAll(fd: Int32, _ raw: UnsafeRawBufferPointer, name: String) throws(CryptoError) {
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw CryptoError(code: .io, message: "writing \(name): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Reads up to `count` bytes (fewer only at end of file).
    static func read(fd: Int32, count: Int, name: String) throws(CryptoError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + filled, count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CryptoError(code: .io, message: "reading \(name): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            filled += n
        }
        buffer.removeSubrange(filled...)
        return buffer
    }

    static func openRead(_ path: String) throws(CryptoError) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CryptoError(code: .io, message: "cannot open \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    static func openWrite(_ path: String, mode: mode_t = 0o600) throws(CryptoError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CryptoError(code: .io, message: "cannot create \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Copies `length` bytes (or to end of file when nil) from `offset` of `source` to `fd`.
    static func copy(from source: Int32, offset: Int, length: Int?, to fd: Int32, name: String) throws(CryptoError) {
        guard lseek(source, off_t(offset), SEEK_SET) >= 0 else { throw CryptoError(code: .io, message: "seeking \(name)") }
        var remaining = length ?? Int.max
        while remaining > 0 {
            let chunk = try read(fd: source, count: min(chunkSize, remaining), name: name)
            if chunk.isEmpty { break }
            try writeAll(fd: fd, chunk, name: name)
            remaining -= chunk.count
        }
        if let length, remaining > 0 { throw CryptoError(code: .io, message: "\(name) ended \(remaining) bytes early (of \(length))") }
    }

    /// Moves the offset of `fd` to `offset` from the start.
    static func seek(_ fd: Int32, to offset: Int, name: String) throws(CryptoError) {
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else {
            throw CryptoError(code: .io, message: "seeking \(name): \(String(cString: strerror(errno)))")
        }
    }

    /// The size of the open file `fd` (0 when it cannot be known, e.g. a pipe).
    static func size(of fd: Int32) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        return Int(info.st_size)
    }

    static func size(of path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }
}

/// A private (0600) temporary file, deleted when this value goes away
/// unless it was handed over with ``keep()``.
final class PrivateTemporaryFile {
    let path: String
    private var kept = false

    init(directory: String? = nil, prefix: String = "fedmail") throws(CryptoError) {
        let dir = directory ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array("\(dir)/.\(prefix)-XXXXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw CryptoError(code: .io, message: "cannot create a temporary file in \(dir): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        close(fd)
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Hands the file over: it is no longer deleted on deinit.
    func keep() { kept = true }

    deinit { if !kept { unlink(path) } }
}
