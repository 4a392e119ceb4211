import Foundation
@testable import SystemIO
import Testing

/// The one directory listing every spool sweep, metric and cleanup uses.
@Suite struct DirectoryListingTests {
    @Test("every name but . and .., whatever its bytes; nothing for a directory that cannot be read")
    func names() throws {
        let scratch = try ScratchDirectory("listing-test")
        let made = ["a", ".hidden", "split.0123.abc", "with space", "long-" + String(repeating: "x", count: 200)]
        for name in made { FileManager.default.createFile(atPath: scratch.path + "/" + name, contents: Data("x".utf8)) }
        try FileManager.default.createDirectory(atPath: scratch.path + "/sub", withIntermediateDirectories: false)
        #expect(Set(FileIO.names(in: scratch.path)) == Set(made + ["sub"]))
        #expect(FileIO.names(in: scratch.path + "/missing").isEmpty)
        #expect(FileIO.names(in: scratch.path + "/a").isEmpty, "a file is not a directory")
    }

    @Test("at most `limit` entries are looked at")
    func limit() throws {
        let scratch = try ScratchDirectory("listing-test")
        for index in 0..<50 { FileManager.default.createFile(atPath: scratch.path + "/f\(index)", contents: nil) }
        let some = FileIO.names(in: scratch.path, limit: 10)
        #expect(some.count <= 10 && some.count >= 8, ". and .. may be among the ten looked at")
        #expect(FileIO.names(in: scratch.path).count == 50)
    }

    @Test("the size of a regular file only: a symbolic link, a directory or nothing is nil")
    func regularFileSize() throws {
        let scratch = try ScratchDirectory("listing-test")
        FileManager.default.createFile(atPath: scratch.path + "/file", contents: Data(repeating: 7, count: 1234))
        try FileManager.default.createSymbolicLink(atPath: scratch.path + "/link", withDestinationPath: scratch.path + "/file")
        #expect(FileIO.regularFileSize(scratch.path + "/file") == 1234)
        #expect(FileIO.regularFileSize(scratch.path + "/link") == nil, "a link is not followed")
        #expect(FileIO.regularFileSize(scratch.path) == nil)
        #expect(FileIO.regularFileSize(scratch.path + "/none") == nil)
    }
}
