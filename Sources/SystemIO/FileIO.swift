#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Chunked POSIX file I/O with the EINTR and short-count loops written
/// once, so a large message never sits whole in memory. Every failure is a
/// ``SystemIOError`` naming the file; callers map it once to their own error.
public enum FileIO {
    /// The chunk size of copies.
    public static let chunkSize = 1 << 20

    /// Writes all of `raw` to `fd`.
    public static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer, name: String) throws(SystemIOError) {
        guard let base = raw.baseAddress else { return }
        var offset = 0
        while offset < raw.count {
            let written = SystemCalls.write(fd, base + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw SystemIOError(.io, "writing \(name): \(SystemCalls.text(errno))")
            }
            guard written > 0 else { throw SystemIOError(.io, "writing \(name): nothing was written") }
            offset += written
        }
    }

    /// Writes all of `bytes` to `fd`.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], name: String) throws(SystemIOError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(SystemIOError) in try writeAll(fd, raw, name: name) } }
        try result.get()
    }

    /// Reads once into `buffer` (retrying EINTR): the count read, 0 at end of file.
    public static func readSome(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, name: String) throws(SystemIOError) -> Int {
        while true {
            let count = SystemCalls.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            if errno == EINTR { continue }
            throw SystemIOError(.io, "reading \(name): \(SystemCalls.text(errno))")
        }
    }

    /// Reads up to `count` bytes (fewer only at end of file).
    public static func read(_ fd: Int32, count: Int, name: String) throws(SystemIOError) -> [UInt8] {
        // Uninitialized: zeroing a 256 KiB chunk that a 10 KB file fills
        // only in part cost more than the read itself.
        var failure: SystemIOError?
        let buffer = [UInt8](unsafeUninitializedCapacity: max(0, count)) { storage, initialized in
            let raw = UnsafeMutableRawBufferPointer(storage)
            var filled = 0
            while filled < count {
                let result = Result { () throws(SystemIOError) in
                    try readSome(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...]), name: name)
                }
                guard case .success(let got) = result else {
                    if case .failure(let error) = result { failure = error }
                    break
                }
                if got == 0 { break }
                filled += got
            }
            initialized = filled
        }
        if let failure { throw failure }
        return buffer
    }

    /// Opens `path` for reading.
    public static func openRead(_ path: String) throws(SystemIOError) -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemIOError(.io, "cannot open \(path): \(SystemCalls.text(errno))") }
        return fd
    }

    /// Creates or truncates `path` for writing, private (0600) when created.
    public static func openWrite(_ path: String, mode: mode_t = 0o600) throws(SystemIOError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemIOError(.io, "cannot create \(path): \(SystemCalls.text(errno))") }
        return fd
    }

    /// Moves the offset of `fd` to `offset` from the start.
    public static func seek(_ fd: Int32, to offset: Int, name: String) throws(SystemIOError) {
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else {
            throw SystemIOError(.io, "seeking \(name): \(SystemCalls.text(errno))")
        }
    }

    /// Copies `length` bytes (or to end of file when nil) from `offset` of
    /// `source` (or from where it stands when `offset` is nil) to `fd`.
    public static func copy(from source: Int32, offset: Int?, length: Int?, to fd: Int32, name: String) throws(SystemIOError) {
        if let offset { try seek(source, to: offset, name: name) }
        var remaining = length ?? Int.max
        while remaining > 0 {
            let chunk = try read(source, count: min(chunkSize, remaining), name: name)
            if chunk.isEmpty { break }
            try writeAll(fd, chunk, name: name)
            remaining -= chunk.count
        }
        if let length, remaining > 0 { throw SystemIOError(.io, "\(name) ended \(remaining) bytes early (of \(length))") }
    }

    /// The size of the open file `fd` (0 when it cannot be known, e.g. a pipe).
    public static func size(of fd: Int32) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        return Int(info.st_size)
    }

    /// The size of the file at `path`, nil when it cannot be read.
    public static func size(of path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    /// Closes `fd`.
    public static func close(_ fd: Int32) { SystemCalls.close(fd) }
}
