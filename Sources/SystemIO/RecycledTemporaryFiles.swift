#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Work files kept, emptied, for the next message instead of deleted, in
/// the private directories that ask for it (the milter's disk spool).
///
/// Creating a file costs an inode allocation. On ext4 without a journal
/// the allocator skips every inode freed in the last seconds, so under a
/// steady flow of messages each create scanned thousands of them: 36% of
/// the milter's CPU on a 2 MB message. A recycled file is truncated to
/// zero bytes before it is kept (nothing of the message stays in it), is
/// handed to one holder at a time, and is checked when taken: a regular
/// file of ours, mode 0600, one link, empty, else it is deleted and a new
/// one made.
public enum RecycledTemporaryFiles {
    /// The most empty files kept per directory and name prefix.
    public static let capacityPerPrefix = 64

    private struct State {
        var directories: Set<String> = []
        /// Empty files by "directory/prefix".
        var idle: [String: [String]] = [:]
    }

    private static let state = BlockingMutex(State())

    /// Keeps the work files of `directory` (a private directory) for reuse.
    public static func enable(directory: String) {
        state.withLock { _ = $0.directories.insert(directory) }
    }

    /// Stops keeping the files of `directory` and forgets those kept (the
    /// directory is being removed with them).
    public static func disable(directory: String) {
        state.withLock { state in
            state.directories.remove(directory)
            state.idle = state.idle.filter { !$0.key.hasPrefix(directory + "/") }
        }
    }

    /// An empty kept file of `directory` named `prefix` + 6 characters,
    /// open for reading and writing, or nil (none kept: create one).
    static func take(directory: String, prefix: String) -> (fd: Int32, path: String)? {
        let key = directory + "/" + prefix
        while let path = state.withLock({ $0.idle[key]?.popLast() }) {
            let fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            if fd >= 0, privateFileSize(fd) == 0, fcntl(fd, F_SETFL, 0) == 0 { return (fd, path) }
            if fd >= 0 { close(fd) }
            unlink(path)
        }
        return nil
    }

    /// Ends the use of the work file at `path`: emptied and kept when its
    /// directory recycles and there is room, else deleted. Its holder must
    /// have closed it and must never use the path again: a descriptor
    /// still open would see it emptied, and the path may be handed to the
    /// next message.
    public static func discard(_ path: String) {
        guard let slash = path.lastIndex(of: "/") else { unlink(path); return }
        let directory = String(path[..<slash])
        let name = path[path.index(after: slash)...]
        let key = directory + "/" + name.dropLast(6)
        guard name.count > 6, state.withLock({ $0.directories.contains(directory) && ($0.idle[key]?.count ?? 0) < capacityPerPrefix }) else {
            unlink(path)
            return
        }
        // O_NONBLOCK: a FIFO put in its place must not hang the open (it is
        // then refused as not a regular file).
        let fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { unlink(path); return }
        // Checked before it is emptied: never truncate a file with another
        // name (a hard link would lose its content too).
        let emptied = privateFileSize(fd) != nil && ftruncate(fd, 0) == 0
        close(fd)
        guard emptied else { unlink(path); return }
        let kept = state.withLock { state -> Bool in
            guard state.directories.contains(directory), (state.idle[key]?.count ?? 0) < capacityPerPrefix else { return false }
            state.idle[key, default: []].append(path)
            return true
        }
        if !kept { unlink(path) }
    }

    /// The size of `fd` when it is a regular file of ours, mode 0600, with
    /// this one name; nil otherwise.
    private static func privateFileSize(_ fd: Int32) -> Int? {
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_mode & 0o777 == 0o600,
              info.st_uid == geteuid(), info.st_nlink == 1 else { return nil }
        return Int(info.st_size)
    }
}
