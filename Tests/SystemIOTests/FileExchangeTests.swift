import Foundation
@testable import SystemIO
import Testing

/// Replacing a file atomically: over nothing it is a rename; over a file
/// the two are swapped, so the caller can recycle the old one.
@Suite struct FileExchangeTests {
    static func directory() throws -> String {
        let path = NSTemporaryDirectory() + "/exchange-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

    static func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func overNothingItIsARename() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "new".write(toFile: dir + "/tmp", atomically: false, encoding: .utf8)
        #expect(try FileIO.replace(dir + "/out", with: dir + "/tmp") == false)
        #expect(Self.contents(dir + "/out") == "new")
        #expect(!FileManager.default.fileExists(atPath: dir + "/tmp"))
    }

    @Test func overAFileTheTwoAreSwapped() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "new".write(toFile: dir + "/tmp", atomically: false, encoding: .utf8)
        try "old".write(toFile: dir + "/out", atomically: false, encoding: .utf8)
        var before = stat()
        stat(dir + "/tmp", &before)
        #expect(try FileIO.replace(dir + "/out", with: dir + "/tmp") == true)
        #expect(Self.contents(dir + "/out") == "new")
        #expect(Self.contents(dir + "/tmp") == "old")
        var after = stat()
        stat(dir + "/out", &after)
        #expect(after.st_ino == before.st_ino, "the very file moved, not a copy")
    }

    @Test func aMissingSourceIsAnError() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "old".write(toFile: dir + "/out", atomically: false, encoding: .utf8)
        #expect(throws: SystemIOError.self) { try FileIO.replace(dir + "/out", with: dir + "/missing") }
        #expect(Self.contents(dir + "/out") == "old")
    }
}
