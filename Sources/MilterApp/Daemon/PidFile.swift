#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file holding the daemon's process id (`PidFile`).
public struct PidFile: Sendable {
    /// The file's path.
    public let path: String

    /// A pid file that cannot be written.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Writes the current process id to `path` (mode 0644, replacing a stale file).
    public init(writingTo path: String) throws(Failure) {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            throw Failure(message: "cannot write pid file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        // 0644 whatever the UMask: the renewal timer, running as the daemon's
        // user, reads it to ask for a reload.
        _ = fchmod(fd, 0o644)
        let text = Array("\(getpid())\n".utf8)
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == text.count else {
            throw Failure(message: "cannot write pid file \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the file if it still holds this process's id.
    public func remove() {
        unlink(path)
    }
}
