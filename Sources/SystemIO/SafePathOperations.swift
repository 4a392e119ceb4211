// File operations that run with privileges in directories others may write
// to: never following a symbolic link, checked on the descriptor used.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FileIO {
    /// Removes the private directory `name` in the directory open as
    /// `parentFD` with everything in it (subdirectories down to `depth`
    /// levels), when it is a real directory owned by one of `owners` that
    /// no one else may enter (mode 0700 or less); returns whether it is gone.
    ///
    /// Safe in a directory others can write to (/dev/shm, /tmp), even as
    /// root: every step is relative to a descriptor opened without
    /// following a symbolic link and checked on that descriptor, so a name
    /// swapped for a link between two steps removes only that link; a
    /// directory another user made is never entered.
    @discardableResult
    public static func removePrivateDirectory(named name: String, in parentFD: Int32, ownedBy owners: Set<uid_t>,
                                              depth: Int = 1) -> Bool {
        let fd = openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, owners.contains(info.st_uid),
              info.st_mode & 0o077 == 0 else {
            SystemCalls.close(fd)
            return false
        }
        for entry in names(inDirectoryAt: fd) {
            var entryInfo = stat()
            if depth > 0, fstatat(fd, entry, &entryInfo, AT_SYMLINK_NOFOLLOW) == 0, entryInfo.st_mode & S_IFMT == S_IFDIR {
                removePrivateDirectory(named: entry, in: fd, ownedBy: owners, depth: depth - 1)
            } else {
                unlinkat(fd, entry, 0)
            }
        }
        SystemCalls.close(fd)
        return unlinkat(parentFD, name, AT_REMOVEDIR) == 0
    }

    /// ``removePrivateDirectory(named:in:ownedBy:depth:)`` for a path: its
    /// parent directory is opened as named (a link there is the operator's).
    @discardableResult
    public static func removePrivateDirectory(atPath path: String, ownedBy owners: Set<uid_t>, depth: Int = 1) -> Bool {
        guard let (parent, name) = directoryAndName(path) else { return false }
        let parentFD = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parentFD >= 0 else { return false }
        defer { SystemCalls.close(parentFD) }
        return removePrivateDirectory(named: name, in: parentFD, ownedBy: owners, depth: depth)
    }

    /// The names in the directory open as `fd` ("." and ".." left out);
    /// `fd` stays open.
    static func names(inDirectoryAt fd: Int32) -> [String] {
        let copy = dup(fd)
        guard copy >= 0 else { return [] }
        guard let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name), let stream = fdopendir(copy) else {
            SystemCalls.close(copy)
            return []
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}

extension FileIO {
    /// Hands the unix socket at `path` to `uid`:`gid` without following a
    /// symbolic link (root does this after binding, in a directory the
    /// new owner may be able to write to): the name must still be a socket
    /// when it is looked at, and the change applies to that name itself.
    /// - Throws: ``SystemIOError`` when it is not a socket or cannot be changed.
    public static func changeSocketOwner(atPath path: String, uid: uid_t, gid: gid_t) throws(SystemIOError) {
        func failure(_ what: String, _ code: Int32) -> SystemIOError {
            SystemIOError(.io, "\(what) \(path): \(SystemCalls.text(code))", errorNumber: code)
        }
        guard let (parent, name) = directoryAndName(path) else { throw failure("chown", EINVAL) }
        let parentFD = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parentFD >= 0 else { throw failure("opening the directory of", errno) }
        defer { SystemCalls.close(parentFD) }
        var info = stat()
        guard fstatat(parentFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw failure("stat", errno) }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SystemIOError(.notRegularFile, "chown \(path): not a socket (replaced since it was bound?)")
        }
        guard fchownat(parentFD, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0 else { throw failure("chown", errno) }
    }
}

extension FileIO {
    /// Replaces `path` with `bytes` atomically: a new private file in the
    /// same directory (made with `mkstemp`, so never an existing file or a
    /// link's target), written, given `mode` (and `owner` when set), synced,
    /// then renamed over `path`. A reader sees the old file or the new one,
    /// never part of one; a symbolic link at `path` is replaced, not
    /// followed, and the new file never keeps another user's ownership.
    public static func install(_ bytes: [UInt8], at path: String, mode: mode_t,
                               owner: (uid: uid_t, gid: gid_t)? = nil) throws(SystemIOError) {
        guard let (directory, name) = directoryAndName(path) else {
            throw SystemIOError(.io, "cannot write \(path): not a file name", errorNumber: EINVAL)
        }
        // mkstemp (mode 0600): a new file, never an existing one or a link's target.
        let (fd, temporary) = try PrivateTemporaryFile.create(directory: directory, prefix: ".\(name).")
        var done = false
        defer {
            SystemCalls.close(fd)
            if !done { unlink(temporary) }
        }
        try writeAll(fd, bytes, name: temporary)
        // The owner when the caller may give it (root, or its own).
        if let owner { _ = fchown(fd, owner.uid, owner.gid) }
        guard fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            let code = errno
            throw SystemIOError(.io, "cannot write \(temporary): \(SystemCalls.text(code))", errorNumber: code)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            throw SystemIOError(.io, "cannot replace \(path): \(SystemCalls.text(code))", errorNumber: code)
        }
        done = true
    }
}

extension FileIO {
    /// `path` as its directory and last name (`.` for a bare name, `/`
    /// for one at the root); nil when there is no name to act on.
    static func directoryAndName(_ path: String) -> (directory: String, name: String)? {
        guard let slash = path.lastIndex(of: "/") else { return path.isEmpty ? nil : (".", path) }
        let name = String(path[path.index(after: slash)...])
        guard !name.isEmpty, name != ".", name != ".." else { return nil }
        return (slash == path.startIndex ? "/" : String(path[..<slash]), name)
    }
}
