import Foundation
@testable import SystemIO
import Testing

/// The one directory listing every spool sweep, metric and cleanup uses.
@Suite struct DirectoryListingTests {
    static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "/listing-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    @Test("every name but . and .., whatever its bytes; nothing for a directory that cannot be read")
    func names() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = ["a", ".hidden", "split.0123.abc", "with space", "long-" + String(repeating: "x", count: 200)]
        for name in made { FileManager.default.createFile(atPath: dir + "/" + name, contents: Data("x".utf8)) }
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: false)
        #expect(Set(FileIO.names(in: dir)) == Set(made + ["sub"]))
        #expect(FileIO.names(in: dir + "/missing").isEmpty)
        #expect(FileIO.names(in: dir + "/a").isEmpty, "a file is not a directory")
    }

    @Test("at most `limit` entries are looked at")
    func limit() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for index in 0..<50 { FileManager.default.createFile(atPath: dir + "/f\(index)", contents: nil) }
        let some = FileIO.names(in: dir, limit: 10)
        #expect(some.count <= 10 && some.count >= 8, ". and .. may be among the ten looked at")
        #expect(FileIO.names(in: dir).count == 50)
    }

    @Test("the size of a regular file only: a symbolic link, a directory or nothing is nil")
    func regularFileSize() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/file", contents: Data(repeating: 7, count: 1234))
        try FileManager.default.createSymbolicLink(atPath: dir + "/link", withDestinationPath: dir + "/file")
        #expect(FileIO.regularFileSize(dir + "/file") == 1234)
        #expect(FileIO.regularFileSize(dir + "/link") == nil, "a link is not followed")
        #expect(FileIO.regularFileSize(dir) == nil)
        #expect(FileIO.regularFileSize(dir + "/none") == nil)
    }
}
