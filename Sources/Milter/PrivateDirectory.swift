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
        chmod(path, 0o700)
    }

    /// Hands the directory to another owner (before dropping privileges).
    public func changeOwner(uid: uid_t, gid: gid_t) throws(MilterError) {
        guard chown(path, uid, gid) == 0 else {
            throw MilterError(code: .spoolFailure, message: "chown \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes the directory and any files left in it.
    public func remove() {
        RecycledTemporaryFiles.disable(directory: path)
        Self.removeTree(path)
    }

    /// Removes `parent/prefix.PID.*` directories whose process no longer
    /// exists (spool files left by a daemon that was killed).
    ///
    /// - Returns: the paths that were removed (one that could not be, for
    ///   lack of permission, is left and not listed).
    @discardableResult
    public static func removeStale(parent: String, prefix: String = "fedmail-milter") -> [String] {
        var stale: [String] = []
        for name in FileIO.names(in: parent) {
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == prefix, let pid = pid_t(parts[1]), pid > 0,
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            stale.append(parent + "/" + name)
        }
        for path in stale {
            var info = stat()
            // Only real directories, never a symbolic link planted in /tmp.
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { continue }
            removeTree(path)
        }
        return stale.filter { access($0, F_OK) != 0 }
    }

    /// Removes a directory of plain files and of directories of plain files
    /// (a spool holds work files, and the milter's in-doubt copies when it
    /// has no StateDirectory). A symbolic link is removed, never followed.
    private static func removeTree(_ path: String, depth: Int = 0) {
        for name in FileIO.names(in: path) {
            let child = path + "/" + name
            var info = stat()
            if depth == 0, lstat(child, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                removeTree(child, depth: depth + 1)
            } else {
                unlink(child)
            }
        }
        rmdir(path)
    }
}
