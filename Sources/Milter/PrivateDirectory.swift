#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SystemIO

/// A directory only its owner can enter (mode 0700), created with a unique
/// name under a parent directory, for body spool files.
public final class PrivateDirectory: Sendable {
    /// The directory's path.
    public let path: String

    /// Creates `parent/prefix.PID.XXXXXX` with mode 0700; the process id in
    /// the name lets ``removeStale(parent:prefix:)`` find directories left by
    /// a process that died without cleaning up.
    ///
    /// - Throws: ``MilterError`` `spoolFailure` when it cannot be created.
    public init(parent: String, prefix: String = "fedmail-milter") throws(MilterError) {
        var template = Array("\(parent)/\(prefix).\(getpid()).XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard created != nil else {
            throw MilterError(code: .spoolFailure,
                              message: "creating a private directory in \(parent): \(String(cString: strerror(errno)))")
        }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Hands the directory to another owner (before dropping privileges),
    /// through a descriptor opened without following a symbolic link: the
    /// parent may be writable by that owner, who could otherwise put a
    /// link in its place for root to hand over what it points to.
    public func changeOwner(uid: uid_t, gid: gid_t) throws(MilterError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            throw MilterError(code: .spoolFailure, message: "opening \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard fchown(fd, uid, gid) == 0 else {
            throw MilterError(code: .spoolFailure, message: "chown \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the directory and any files left in it (never following a
    /// symbolic link: ``FileIO/removePrivateDirectory(atPath:ownedBy:depth:)``).
    public func remove() {
        RecycledTemporaryFiles.disable(directory: path)
        // Ours, whether or not it was handed to the UserID user yet.
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        FileIO.removePrivateDirectory(atPath: path, ownedBy: [geteuid(), info.st_uid])
    }

    /// Removes `parent/prefix.PID.*` directories whose process no longer
    /// exists (spool files left by a daemon that was killed): only private
    /// ones (mode 0700) owned by one of `owners` — the daemon's user at
    /// start and its `UserID` — and without ever following a symbolic link
    /// (``FileIO/removePrivateDirectory(named:in:ownedBy:depth:)``): this
    /// runs as root in directories any user can write to, where anyone can
    /// make a directory of that name.
    ///
    /// - Returns: the paths that were removed.
    @discardableResult
    public static func removeStale(parent: String, prefix: String = "fedmail-milter", owners: Set<uid_t>) -> [String] {
        let parentFD = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parentFD >= 0 else { return [] }
        defer { close(parentFD) }
        var removed: [String] = []
        for name in FileIO.names(in: parent) {
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == prefix, let pid = pid_t(parts[1]), pid > 0,
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            if FileIO.removePrivateDirectory(named: name, in: parentFD, ownedBy: owners) { removed.append(parent + "/" + name) }
        }
        return removed
    }
}
