#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A private (0600) file with a unique name, deleted (or emptied and kept,
/// see ``RecycledTemporaryFiles``) when this value goes away unless it was
/// handed over with ``keep()``.
public final class PrivateTemporaryFile: @unchecked Sendable {
    /// The file's path.
    public let path: String
    private var kept = false

    /// Creates `directory/<prefix>XXXXXX` (`$TMPDIR` or `/tmp` when
    /// `directory` is nil). `prefix` is used as given (a leading dot hides it).
    public init(directory: String? = nil, prefix: String) throws(SystemIOError) {
        let (fd, path) = try Self.create(directory: directory, prefix: prefix)
        SystemCalls.close(fd)
        self.path = path
    }

    /// Creates the file (or takes an empty one kept by
    /// ``RecycledTemporaryFiles``) and returns it open for writing with its
    /// path; the caller owns the descriptor and, unless it wraps the path
    /// in a ``PrivateTemporaryFile``, the file: it ends its use with
    /// ``RecycledTemporaryFiles/discard(_:)``.
    public static func create(directory: String? = nil, prefix: String) throws(SystemIOError) -> (fd: Int32, path: String) {
        let dir = directory ?? Self.defaultDirectory
        if let recycled = RecycledTemporaryFiles.take(directory: dir, prefix: prefix) { return recycled }
        var template = Array("\(dir)/\(prefix)XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
            guard let base = buffer.baseAddress else { return -1 }
            return mkstemp(base)
        }
        guard fd >= 0 else {
            let code = errno
            throw SystemIOError(.io, "cannot create a temporary file in \(dir): \(SystemCalls.text(code))", errorNumber: code)
        }
        fchmod(fd, 0o600)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let path = template.withUnsafeBufferPointer { buffer in
            String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return (fd, path)
    }

    /// `$TMPDIR`, else `/tmp`.
    public static var defaultDirectory: String {
        if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
        return "/tmp"
    }

    /// Hands the file over: it is no longer deleted on deinit.
    public func keep() { kept = true }

    deinit { if !kept { RecycledTemporaryFiles.discard(path) } }
}
