import Testing
@testable import Milter
#if canImport(Glibc)
import Glibc
#endif

@Suite("SpooledBody")
struct SpooledBodyTests {
    /// A private directory per test (tests run in parallel).
    func directory() throws -> PrivateDirectory {
        try PrivateDirectory(parent: "/tmp", prefix: "fedmail-milter-test")
    }

    func chunk(_ byte: UInt8, _ count: Int) -> [UInt8] { [UInt8](repeating: byte, count: count) }

    @Test("a body under the threshold stays in memory")
    func inMemory() throws {
        let dir = try directory()
        defer { dir.remove() }
        let body = SpooledBody(threshold: 1000, directory: dir.path)
        try body.append(contentsOf: chunk(65, 400))
        try body.append(contentsOf: chunk(66, 600))
        #expect(!body.isSpooled)
        #expect(body.path == nil)
        #expect(body.count == 1000)
        #expect(try body.bytes() == chunk(65, 400) + chunk(66, 600))
    }

    @Test("a body over the threshold moves to a 0600 file in the directory, in order")
    func spooled() throws {
        let dir = try directory()
        defer { dir.remove() }
        let body = SpooledBody(threshold: 1000, directory: dir.path)
        try body.append(contentsOf: chunk(1, 700))
        try body.append(contentsOf: chunk(2, 700))
        try body.append(contentsOf: chunk(3, 100_000))
        #expect(body.isSpooled)
        #expect(body.count == 101_400)
        let path = try #require(body.path)
        #expect(path.hasPrefix(dir.path + "/"))
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(Int(info.st_size) == 101_400)
        #expect(try body.bytes() == chunk(1, 700) + chunk(2, 700) + chunk(3, 100_000))
    }

    @Test("reading in chunks never gives more than the chunk size and covers every byte")
    func chunkedRead() throws {
        let dir = try directory()
        defer { dir.remove() }
        let body = SpooledBody(threshold: 10, directory: dir.path)
        let data = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try body.append(contentsOf: data)
        var sizes: [Int] = []
        var read: [UInt8] = []
        try body.forEachChunk(size: 65_536) { piece in
            sizes.append(piece.count)
            read.append(contentsOf: piece)
        }
        #expect(sizes == [65_536, 65_536, 65_536, 3_392])
        #expect(read == data)
    }

    @Test("discard and release remove the spool file")
    func removal() throws {
        let dir = try directory()
        defer { dir.remove() }
        var path: String?
        do {
            let body = SpooledBody(threshold: 0, directory: dir.path)
            try body.append(contentsOf: chunk(7, 10))
            path = body.path
            #expect(access(try #require(path), F_OK) == 0)
        }
        #expect(access(try #require(path), F_OK) != 0)

        let body = SpooledBody(threshold: 0, directory: dir.path)
        try body.append(contentsOf: chunk(7, 10))
        let second = try #require(body.path)
        body.discard()
        #expect(access(second, F_OK) != 0)
        #expect(body.count == 0)
        #expect(!body.isSpooled)
    }

    @Test("a spool directory that cannot be written is a spoolFailure, not a crash")
    func unwritable() {
        let body = SpooledBody(threshold: 0, directory: "/nonexistent/fedmail")
        #expect {
            try body.append(contentsOf: [1, 2, 3])
        } throws: { error in
            (error as? MilterError)?.code == .spoolFailure
        }
    }

    @Test("spool directories of dead processes are removed, others kept")
    func staleDirectories() throws {
        let parent = try directory()
        defer { parent.remove() }
        // pid 2^22+1 is above Linux's pid_max limit, so no such process exists.
        let deadPath = parent.path + "/fedmail-milter.4194305.abcdef"
        #expect(mkdir(deadPath, 0o700) == 0)
        #expect(creat(deadPath + "/body.123456", 0o600) >= 0)
        let mine = try PrivateDirectory(parent: parent.path)
        let alivePath = parent.path + "/fedmail-milter.1.abcdef"  // pid 1 always exists
        #expect(mkdir(alivePath, 0o700) == 0)
        let otherPath = parent.path + "/unrelated.4194305.abcdef"
        #expect(mkdir(otherPath, 0o700) == 0)

        let removed = PrivateDirectory.removeStale(parent: parent.path, owners: [geteuid()])
        #expect(removed == [deadPath])
        #expect(access(deadPath, F_OK) != 0)
        #expect(access(mine.path, F_OK) == 0)
        #expect(access(alivePath, F_OK) == 0)
        #expect(access(otherPath, F_OK) == 0)
        rmdir(alivePath)
        rmdir(otherPath)
    }

    /// The clean-up at start runs as root in world-writable directories
    /// (/dev/shm, often TemporaryDirectory): a directory any user made with
    /// a dead pid in its name must not be emptied, or a symbolic link
    /// swapped in for a subdirectory between the checks would have root
    /// delete another directory's files.
    @Test("a stale-named spool directory another user owns, or one others may enter, is left alone")
    func staleDirectoryOfAnotherUser() throws {
        let parent = try directory()
        defer { parent.remove() }
        let planted = parent.path + "/fedmail-milter.4194305.planted"
        #expect(mkdir(planted, 0o700) == 0)
        #expect(mkdir(planted + "/sub", 0o700) == 0)
        #expect(creat(planted + "/sub/secret", 0o600) >= 0)
        #expect(chown(planted, 65534, 65534) == 0)
        let open = parent.path + "/fedmail-milter.4194306.open"
        #expect(mkdir(open, 0o700) == 0)
        #expect(chmod(open, 0o777) == 0)
        #expect(creat(open + "/file", 0o600) >= 0)

        let removed = PrivateDirectory.removeStale(parent: parent.path, owners: [geteuid()])
        #expect(removed.isEmpty)
        #expect(access(planted + "/sub/secret", F_OK) == 0)
        #expect(access(open + "/file", F_OK) == 0)
        #expect(chown(planted, geteuid(), getegid()) == 0)
    }

    @Test("inside a stale directory a symbolic link is removed, never followed, at any depth")
    func staleDirectoryLinks() throws {
        let parent = try directory()
        defer { parent.remove() }
        let victim = try directory()
        defer { victim.remove() }
        #expect(creat(victim.path + "/keep", 0o600) >= 0)
        let dead = parent.path + "/fedmail-milter.4194305.links"
        #expect(mkdir(dead, 0o700) == 0)
        #expect(symlink(victim.path, dead + "/sub") == 0)
        #expect(mkdir(dead + "/real", 0o700) == 0)
        #expect(symlink(victim.path, dead + "/real/inner") == 0)
        #expect(creat(dead + "/real/body", 0o600) >= 0)

        #expect(PrivateDirectory.removeStale(parent: parent.path, owners: [geteuid()]) == [dead])
        #expect(access(dead, F_OK) != 0)
        #expect(access(victim.path + "/keep", F_OK) == 0)
    }

    @Test("the private directory is 0700 and removed with its files")
    func privateDirectory() throws {
        let dir = try directory()
        var info = stat()
        #expect(stat(dir.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)
        let body = SpooledBody(threshold: 0, directory: dir.path)
        try body.append(contentsOf: [1])
        dir.remove()
        #expect(access(dir.path, F_OK) != 0)
    }
}
