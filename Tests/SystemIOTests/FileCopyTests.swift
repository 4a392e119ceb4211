import Foundation
@testable import SystemIO
import Testing

/// `FileIO.copy`: the range asked for, from a file, a pipe or into an
/// append-only file, the output's offset moved past it; a short source is
/// an error after what it had.
@Suite struct FileCopyTests {
    static let bytes: [UInt8] = (0..<(3 << 20) + 7).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 11) }

    @discardableResult
    static func file(_ path: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func read(_ path: String) -> [UInt8] { FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? [] }

    @Test("between files: the range from offset for length, or to the end, whatever its size", arguments: [
        (0, Optional<Int>.none), (1, Optional(0)), (17, Optional(1)), (4096, Optional((3 << 20) - 4096)), (1000, Optional<Int>.none),
    ])
    func betweenFiles(offset: Int, length: Int?) throws {
        let scratch = try ScratchDirectory("file-copy-test")
        let source = try FileIO.openRead(Self.file(scratch.path + "/in", Self.bytes))
        defer { FileIO.close(source) }
        let output = try FileIO.openWrite(scratch.path + "/out")
        try FileIO.writeAll(output, Array("prefix:".utf8), name: "out")
        try FileIO.copy(from: source, offset: offset, length: length, to: output, name: "in")
        try FileIO.writeAll(output, Array(":suffix".utf8), name: "out")
        FileIO.close(output)
        let end = length.map { offset + $0 } ?? Self.bytes.count
        #expect(Self.read(scratch.path + "/out") == Array("prefix:".utf8) + Array(Self.bytes[offset..<end]) + Array(":suffix".utf8),
                "the output's offset moved past the copy")
        #expect(FileIO.size(of: source) == Self.bytes.count)
    }

    @Test("from a pipe, and into an append-only file: the same bytes")
    func notTwoRegularFiles() throws {
        let scratch = try ScratchDirectory("file-copy-test")
        // Into an append-only file.
        let source = try FileIO.openRead(Self.file(scratch.path + "/in", Self.bytes))
        defer { FileIO.close(source) }
        try Self.file(scratch.path + "/append", Array("start:".utf8))
        let appending = open(scratch.path + "/append", O_WRONLY | O_APPEND)
        try #require(appending >= 0)
        try FileIO.copy(from: source, offset: 5, length: 70_000, to: appending, name: "in")
        close(appending)
        #expect(Self.read(scratch.path + "/append") == Array("start:".utf8) + Array(Self.bytes[5..<70_005]))
        // From a pipe.
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        let message = Array(Self.bytes[..<60_000])
        let (readEnd, writeEnd) = (ends[0], ends[1])
        let writer = Thread {
            _ = message.withUnsafeBytes { write(writeEnd, $0.baseAddress, $0.count) }
            close(writeEnd)
        }
        writer.start()
        let output = try FileIO.openWrite(scratch.path + "/from-pipe")
        try FileIO.copy(from: readEnd, offset: nil, length: nil, to: output, name: "pipe")
        FileIO.close(output)
        close(readEnd)
        #expect(Self.read(scratch.path + "/from-pipe") == message)
    }

    @Test("a source shorter than the length asked for is an error, after what it had")
    func shortSource() throws {
        let scratch = try ScratchDirectory("file-copy-test")
        let source = try FileIO.openRead(Self.file(scratch.path + "/in", Array(Self.bytes[..<100])))
        defer { FileIO.close(source) }
        let output = try FileIO.openWrite(scratch.path + "/out")
        defer { FileIO.close(output) }
        #expect(throws: SystemIOError.self) { try FileIO.copy(from: source, offset: 10, length: 500, to: output, name: "in") }
        #expect(Self.read(scratch.path + "/out") == Array(Self.bytes[10..<100]))
    }
}
