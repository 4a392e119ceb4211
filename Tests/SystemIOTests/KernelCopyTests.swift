import Foundation
@testable import SystemIO
import Testing

/// `FileIO.copy`: the kernel copies between two files; a pipe, an
/// append-only output or a short source take the buffered path or fail as
/// before, and the bytes are always the range asked for.
@Suite struct KernelCopyTests {
    static let bytes: [UInt8] = (0..<(3 << 20) + 7).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 11) }

    static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "/kernel-copy-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        return path
    }

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
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try FileIO.openRead(Self.file(dir + "/in", Self.bytes))
        defer { FileIO.close(source) }
        let output = try FileIO.openWrite(dir + "/out")
        try FileIO.writeAll(output, Array("prefix:".utf8), name: "out")
        try FileIO.copy(from: source, offset: offset, length: length, to: output, name: "in")
        try FileIO.writeAll(output, Array(":suffix".utf8), name: "out")
        FileIO.close(output)
        let end = length.map { offset + $0 } ?? Self.bytes.count
        #expect(Self.read(dir + "/out") == Array("prefix:".utf8) + Array(Self.bytes[offset..<end]) + Array(":suffix".utf8),
                "the output's offset moved past the copy")
        #expect(FileIO.size(of: source) == Self.bytes.count)
    }

    @Test("the kernel copy moves both offsets and stops at the source's end")
    func kernelCopyOffsets() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try FileIO.openRead(Self.file(dir + "/in", Array(Self.bytes[..<1000])))
        defer { FileIO.close(source) }
        let output = try FileIO.openWrite(dir + "/out")
        defer { FileIO.close(output) }
        #expect(FileIO.copyInKernel(from: source, to: output, count: 400) == 400)
        #expect(lseek(source, 0, SEEK_CUR) == 400)
        #expect(lseek(output, 0, SEEK_CUR) == 400)
        #expect(FileIO.copyInKernel(from: source, to: output, count: 5000) == 600, "to the end, not beyond")
        #expect(Self.read(dir + "/out") == Array(Self.bytes[..<1000]))
    }

    @Test("from a pipe, and into an append-only file: the buffered path gives the same bytes")
    func notTwoRegularFiles() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Into an append-only file (the kernel refuses it).
        let source = try FileIO.openRead(Self.file(dir + "/in", Self.bytes))
        defer { FileIO.close(source) }
        try Self.file(dir + "/append", Array("start:".utf8))
        let appending = open(dir + "/append", O_WRONLY | O_APPEND)
        try #require(appending >= 0)
        try FileIO.copy(from: source, offset: 5, length: 70_000, to: appending, name: "in")
        close(appending)
        #expect(Self.read(dir + "/append") == Array("start:".utf8) + Array(Self.bytes[5..<70_005]))
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
        let output = try FileIO.openWrite(dir + "/from-pipe")
        try FileIO.copy(from: readEnd, offset: nil, length: nil, to: output, name: "pipe")
        FileIO.close(output)
        close(readEnd)
        #expect(Self.read(dir + "/from-pipe") == message)
    }

    @Test("a source shorter than the length asked for is an error, after what it had")
    func shortSource() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try FileIO.openRead(Self.file(dir + "/in", Array(Self.bytes[..<100])))
        defer { FileIO.close(source) }
        let output = try FileIO.openWrite(dir + "/out")
        defer { FileIO.close(output) }
        #expect(throws: SystemIOError.self) { try FileIO.copy(from: source, offset: 10, length: 500, to: output, name: "in") }
        #expect(Self.read(dir + "/out") == Array(Self.bytes[10..<100]))
    }
}
