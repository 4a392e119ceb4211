#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one reader for private files (organization keys, the broker's CA and
/// token keys): it refuses, as OpenSSH does, a file that group or others can
/// read or write, and anything that is not a regular file. The checks are made
/// on the opened descriptor, so the file checked is the file read.
public enum SecretFile {
    /// The largest private file read (a PEM key is a few KiB).
    public static let maximumSize = 1 << 20

    /// Whether `mode` (from `stat`) keeps a private file to its owner: no
    /// permission bit for group or others.
    public static func isPrivate(mode: UInt32) -> Bool { mode & 0o077 == 0 }

    /// Reads the private file at `path`.
    public static func read(_ path: String) throws(SystemIOError) -> [UInt8] {
        // Non-blocking: a FIFO put in a key's place must not stop the
        // daemon's start (it is refused below as not a regular file).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            throw SystemIOError(.io, "cannot read private key \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw SystemIOError(.io, "cannot read private key \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw SystemIOError(.notRegularFile, "private key \(path) is not a regular file")
        }
        let mode = UInt32(info.st_mode) & 0o777
        guard isPrivate(mode: mode) else {
            throw SystemIOError(.insecurePermissions,
                                "permissions 0\(String(mode, radix: 8)) for private key '\(path)' are too open: "
                                    + "it must not be accessible by group or others (chmod 600 \(path))")
        }
        guard info.st_size <= maximumSize else {
            throw SystemIOError(.tooLarge, "private key \(path) is larger than \(maximumSize) bytes")
        }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { SystemCalls.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw SystemIOError(.io, "cannot read private key \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            contents.append(contentsOf: chunk[0..<count])
            guard contents.count <= maximumSize else {
                throw SystemIOError(.tooLarge, "private key \(path) is larger than \(maximumSize) bytes")
            }
        }
        return contents
    }
}
