import Foundation
import Testing
@testable import SystemIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Root hands the milter's socket to the `UserID` user in a directory that
/// user may write to: a link put in the socket's place must not make root
/// hand over what it points to.
@Suite("changing the owner of the milter socket")
struct SocketOwnerTests {
    func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "fedmail-sock-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a symbolic link where the socket was is refused; its target keeps its owner")
    func linkRefused() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/target"
        #expect(creat(target, 0o600) >= 0)
        #expect(symlink(target, dir + "/milter.sock") == 0)
        #expect(throws: SystemIOError.self) {
            try FileIO.changeSocketOwner(atPath: dir + "/milter.sock", uid: 65534, gid: 65534)
        }
        var info = stat()
        #expect(stat(target, &info) == 0)
        #expect(info.st_uid == geteuid())
    }

    @Test("a regular file where the socket was is refused")
    func fileRefused() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(creat(dir + "/milter.sock", 0o600) >= 0)
        #expect(throws: SystemIOError.self) {
            try FileIO.changeSocketOwner(atPath: dir + "/milter.sock", uid: 65534, gid: 65534)
        }
    }

    @Test("a bound unix socket is handed over")
    func socketChanged() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/milter.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        try FileIO.changeSocketOwner(atPath: path, uid: 65534, gid: 65534)
        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(info.st_uid == 65534)
    }
}

@Suite("installing a private file")
struct InstallTests {
    @Test("a symbolic link at the path is replaced, never written through; the new file is 0600 and the caller's")
    func linkReplaced() throws {
        let dir = NSTemporaryDirectory() + "fedmail-install-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let victim = dir + "/victim"
        try Data("victim".utf8).write(to: URL(fileURLWithPath: victim))
        #expect(symlink(victim, dir + "/org.key") == 0)
        try FileIO.install(Array("secret".utf8), at: dir + "/org.key", mode: 0o600)
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "victim")
        var info = stat()
        #expect(lstat(dir + "/org.key", &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFREG)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(info.st_uid == geteuid())
        #expect(try String(contentsOfFile: dir + "/org.key", encoding: .utf8) == "secret")
    }

    @Test("a file another user planted at the path is replaced by one of the caller's, not reused")
    func plantedFileReplaced() throws {
        let dir = NSTemporaryDirectory() + "fedmail-install-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/org.key"
        #expect(creat(path, 0o666) >= 0)
        #expect(chown(path, 65534, 65534) == 0)
        try FileIO.install(Array("secret".utf8), at: path, mode: 0o600)
        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(info.st_uid == geteuid())
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(FileIO.names(in: dir) == ["org.key"])
    }
}

@Suite("reading a private key")
struct SecretFileTests {
    @Test("a FIFO in a key's place is refused at once (it used to block the daemon's start until a writer came)")
    func fifoRefused() throws {
        let dir = NSTemporaryDirectory() + "fedmail-secret-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/org.key", 0o600) == 0)
        #expect {
            _ = try SecretFile.read(dir + "/org.key")
        } throws: { error in
            (error as? SystemIOError)?.code == .notRegularFile
        }
    }
}
