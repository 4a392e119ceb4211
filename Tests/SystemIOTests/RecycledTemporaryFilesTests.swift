import Foundation
@testable import SystemIO
import Testing

/// Work files emptied and reused in the directories that ask for it: never
/// with a byte of the last message, never to two holders, never a file
/// that is no longer a private regular file of ours.
@Suite struct RecycledTemporaryFilesTests {
    /// A private directory, recycling or not, removed at the end.
    final class Directory {
        let path: String
        init(recycling: Bool) throws {
            path = NSTemporaryDirectory() + "/recycle-test-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
            if recycling { RecycledTemporaryFiles.enable(directory: path) }
        }
        deinit {
            RecycledTemporaryFiles.disable(directory: path)
            try? FileManager.default.removeItem(atPath: path)
        }
        var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    }

    func make(in directory: Directory, writing text: String = "") throws -> (fd: Int32, path: String) {
        let (fd, path) = try PrivateTemporaryFile.create(directory: directory.path, prefix: "work.")
        if !text.isEmpty { try FileIO.writeAll(fd, Array(text.utf8), name: path) }
        return (fd, path)
    }

    func size(_ path: String) -> Int? { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil }

    @Test("a discarded file is emptied and handed out again, empty")
    func reused() throws {
        let directory = try Directory(recycling: true)
        let first = try make(in: directory, writing: "secret plaintext of the last message")
        close(first.fd)
        RecycledTemporaryFiles.discard(first.path)
        #expect(size(first.path) == 0, "kept, and emptied")
        let second = try make(in: directory)
        defer { close(second.fd) }
        #expect(second.path == first.path)
        var byte: UInt8 = 0
        #expect(read(second.fd, &byte, 1) == 0, "nothing of the last message is left to read")
    }

    @Test("a directory that does not recycle deletes")
    func notRecycling() throws {
        let directory = try Directory(recycling: false)
        let file = try make(in: directory, writing: "x")
        close(file.fd)
        RecycledTemporaryFiles.discard(file.path)
        #expect(directory.entries.isEmpty)
    }

    @Test("two holders never get the same file")
    func exclusive() throws {
        let directory = try Directory(recycling: true)
        let a = try make(in: directory), b = try make(in: directory)
        close(a.fd); close(b.fd)
        #expect(a.path != b.path)
        RecycledTemporaryFiles.discard(a.path)
        let c = try make(in: directory), d = try make(in: directory)
        close(c.fd); close(d.fd)
        #expect(c.path == a.path)
        #expect(d.path != a.path && d.path != b.path)
    }

    @Test("a kept file changed behind our back is deleted, not handed out", arguments: ["symlink", "mode", "link", "content", "fifo"])
    func tampered(change: String) throws {
        let directory = try Directory(recycling: true)
        let file = try make(in: directory)
        close(file.fd)
        RecycledTemporaryFiles.discard(file.path)
        let target = directory.path + "/elsewhere"
        FileManager.default.createFile(atPath: target, contents: Data("other".utf8), attributes: [.posixPermissions: 0o600])
        switch change {
        case "symlink":
            unlink(file.path)
            symlink(target, file.path)
        case "mode": chmod(file.path, 0o644)
        case "link": link(file.path, directory.path + "/second-name")
        case "fifo":
            unlink(file.path)
            mkfifo(file.path, 0o600)
        default: try Data("appeared".utf8).write(to: URL(fileURLWithPath: file.path))
        }
        let next = try make(in: directory)
        defer { close(next.fd) }
        #expect(next.path != file.path)
        var info = stat()
        #expect(fstat(next.fd, &info) == 0 && info.st_size == 0 && info.st_mode & 0o777 == 0o600)
        #expect(String(decoding: FileManager.default.contents(atPath: target) ?? Data(), as: UTF8.self) == "other", "the target was not touched")
    }

    @Test("a file with a second name is deleted at discard, never emptied (the other name keeps its content)")
    func hardLinked() throws {
        let directory = try Directory(recycling: true)
        let file = try make(in: directory, writing: "kept elsewhere")
        close(file.fd)
        let other = directory.path + "/kept-copy"
        #expect(link(file.path, other) == 0)
        RecycledTemporaryFiles.discard(file.path)
        #expect(!FileManager.default.fileExists(atPath: file.path))
        #expect(String(decoding: FileManager.default.contents(atPath: other) ?? Data(), as: UTF8.self) == "kept elsewhere")
    }

    @Test("a FIFO in a held file's place is deleted at discard, without hanging")
    func fifoAtDiscard() throws {
        let directory = try Directory(recycling: true)
        let file = try make(in: directory)
        close(file.fd)
        unlink(file.path)
        #expect(mkfifo(file.path, 0o600) == 0)
        RecycledTemporaryFiles.discard(file.path)
        #expect(!FileManager.default.fileExists(atPath: file.path))
        let next = try make(in: directory)
        close(next.fd)
        #expect(next.path != file.path)
    }

    @Test("at most capacityPerPrefix files are kept; the rest are deleted")
    func capacity() throws {
        let directory = try Directory(recycling: true)
        let files = try (0...RecycledTemporaryFiles.capacityPerPrefix).map { _ in try make(in: directory) }
        for file in files { close(file.fd); RecycledTemporaryFiles.discard(file.path) }
        #expect(directory.entries.count == RecycledTemporaryFiles.capacityPerPrefix)
    }

    @Test("disable forgets the kept files (their directory goes with them)")
    func disabled() throws {
        let directory = try Directory(recycling: true)
        let file = try make(in: directory)
        close(file.fd)
        RecycledTemporaryFiles.discard(file.path)
        RecycledTemporaryFiles.disable(directory: directory.path)
        let next = try make(in: directory)
        close(next.fd)
        #expect(next.path != file.path)
    }
}
