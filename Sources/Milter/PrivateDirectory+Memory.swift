internal import CMilter
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension PrivateDirectory {
    /// Where private directories in memory are made: `/dev/shm`, when it is
    /// a tmpfs.
    public static let memoryParent = "/dev/shm"

    /// Whether `path` is on a tmpfs (its files live in memory, never on a disk).
    public static func isMemoryFileSystem(_ path: String) -> Bool {
        fedmail_is_tmpfs(path) != 0
    }

    /// A private directory (0700) under ``memoryParent``, or nil when there
    /// is no tmpfs there or it cannot be created: for the work files of a
    /// message small enough to stay in memory, so that they never reach
    /// the disk (on a disk file system each create and unlink costs an
    /// inode allocation; under concurrency that dominated the milter's CPU).
    public static func inMemory(prefix: String = "fedmail-milter") -> PrivateDirectory? {
        guard isMemoryFileSystem(memoryParent) else { return nil }
        return try? PrivateDirectory(parent: memoryParent, prefix: prefix)
    }
}
