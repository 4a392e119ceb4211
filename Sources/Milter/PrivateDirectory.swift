#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A directory only its owner can enter (mode 0700), created with a unique
/// name under a parent directory, for body spool files.
public final class PrivateDirectory: Sendable {
    /// The directory's path.
    public let path: String

    /// Creates `parent/prefix.XXXXXX` with mode 0700.
    ///
    /// - Throws: ``MilterError`` `spoolFailure` when it cannot be created.
    public init(parent: String, prefix: String = "fedmail-milter") throws(MilterError) {
        var template = Array("\(parent)/\(prefix).XXXXXX".utf8CString)
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
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}
