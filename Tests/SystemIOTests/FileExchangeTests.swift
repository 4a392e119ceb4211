import Foundation
@testable import SystemIO
import Testing

/// Replacing a file atomically: over nothing it is a rename; over a file
/// the two are swapped, so the caller can recycle the old one.
@Suite struct FileExchangeTests {
    static func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func overNothingItIsARename() throws {
        let scratch = try ScratchDirectory("exchange-test")
        try "new".write(toFile: scratch.path + "/tmp", atomically: false, encoding: .utf8)
        #expect(try FileIO.replace(scratch.path + "/out", with: scratch.path + "/tmp") == false)
        #expect(Self.contents(scratch.path + "/out") == "new")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/tmp"))
    }

    @Test func overAFileTheTwoAreSwapped() throws {
        let scratch = try ScratchDirectory("exchange-test")
        try "new".write(toFile: scratch.path + "/tmp", atomically: false, encoding: .utf8)
        try "old".write(toFile: scratch.path + "/out", atomically: false, encoding: .utf8)
        var before = stat()
        stat(scratch.path + "/tmp", &before)
        #expect(try FileIO.replace(scratch.path + "/out", with: scratch.path + "/tmp") == true)
        #expect(Self.contents(scratch.path + "/out") == "new")
        #expect(Self.contents(scratch.path + "/tmp") == "old")
        var after = stat()
        stat(scratch.path + "/out", &after)
        #expect(after.st_ino == before.st_ino, "the very file moved, not a copy")
    }

    @Test func aMissingSourceIsAnError() throws {
        let scratch = try ScratchDirectory("exchange-test")
        try "old".write(toFile: scratch.path + "/out", atomically: false, encoding: .utf8)
        #expect(throws: SystemIOError.self) { try FileIO.replace(scratch.path + "/out", with: scratch.path + "/missing") }
        #expect(Self.contents(scratch.path + "/out") == "old")
    }
}
