import FedMailCore
import SystemIO
import Foundation

/// The last stage of opening: the signed content is FedMail's inner
/// entity, `multipart/mixed` of the original message and the control part
/// (DESIGN.md). This reads its layout from the verified file and copies
/// the original out, byte for byte (base64-decoded when it travelled so).
struct InnerEntity {
    var layout: SealedInnerEntityLayout
    /// Where the original ends (before the CRLF of the closing delimiter).
    var originalEnd: Int
    var controlJSON: [UInt8]

    /// The most of the inner entity's head read for its layout.
    static let headLimit = 256 * 1024
    /// The most read for the control part.
    static let controlLimit = 1 << 20

    /// The control part, decoded.
    var control: ControlFlags {
        get throws(OpenError) {
            do {
                let flags = try JSONDecoder().decode(ControlFlags.self, from: Data(controlJSON))
                guard flags.v == 1 else { throw OpenError(.malformed, "control part version \(flags.v) is not supported") }
                return flags
            } catch let error as OpenError { throw error } catch {
                throw OpenError(.malformed, "the control part is not valid control JSON: \(error)")
            }
        }
    }

    /// Reads the layout of the inner entity at `path`, streaming to the end of the original.
    static func read(path: String) throws -> InnerEntity {
        let fd = try FileDescriptorIO.openRead(path)
        defer { close(fd) }
        let head = try FileDescriptorIO.read(fd: fd, count: headLimit, name: path)
        let entity: SealedInnerEntityLayout
        do { entity = try SealedInnerEntityLayout.parse(head: head) } catch {
            throw OpenError(.malformed, "the signed content is not a sealed message: \(error.message)")
        }
        // Stream from the start of the original for "\n--boundary".
        let searchStart = max(0, entity.originalOffset - 1)
        try FileDescriptorIO.seek(fd, to: searchStart, name: path)
        var scanner = PatternScanner(pattern: Array("\n--\(entity.boundary)".utf8))
        while scanner.match == nil {
            let chunk = try FileDescriptorIO.read(fd: fd, count: FileDescriptorIO.chunkSize, name: path)
            if chunk.isEmpty { break }
            scanner.feed(chunk)
        }
        guard let match = scanner.match else { throw OpenError(.malformed, "the original part is not closed by a delimiter") }
        let lfOffset = searchStart + match
        var end = lfOffset
        if end > entity.originalOffset {
            // The CR before the LF also belongs to the delimiter.
            try FileDescriptorIO.seek(fd, to: end - 1, name: path)
            if try FileDescriptorIO.read(fd: fd, count: 1, name: path) == [13] { end -= 1 }
        }
        end = max(end, entity.originalOffset)
        let afterDelimiter = lfOffset + 1 + 2 + entity.boundary.utf8.count
        try FileDescriptorIO.seek(fd, to: afterDelimiter, name: path)
        let tail = try FileDescriptorIO.read(fd: fd, count: controlLimit, name: path)
        let json: [UInt8]
        do { json = try SealedInnerEntityLayout.parseControlPart(tail: tail, boundary: entity.boundary) } catch {
            throw OpenError(.malformed, "the control part is missing or malformed: \(error.message)")
        }
        return InnerEntity(layout: entity, originalEnd: end, controlJSON: json)
    }

    /// Copies the original from the inner entity at `path` to `outputPath`;
    /// returns its size in bytes.
    func extractOriginal(from path: String, to outputPath: String, temporaryDirectory: String?) throws -> Int {
        let length = originalEnd - layout.originalOffset
        let input = try FileDescriptorIO.openRead(path)
        defer { close(input) }
        let output = try FileDescriptorIO.openWrite(outputPath)
        defer { close(output) }
        guard layout.originalTransferEncoding == "base64" else {
            try FileDescriptorIO.copy(from: input, offset: layout.originalOffset, length: length, to: output, name: path)
            return length
        }
        let encoded = try PrivateTemporaryFile(directory: temporaryDirectory, prefix: ".fedmail-b64-")
        do {
            let encodedFD = try FileDescriptorIO.openWrite(encoded.path)
            defer { close(encodedFD) }
            try FileDescriptorIO.copy(from: input, offset: layout.originalOffset, length: length, to: encodedFD, name: path)
        }
        let readBack = try FileDescriptorIO.openRead(encoded.path)
        defer { close(readBack) }
        do { try Base64Stream.decode(input: readBack, offset: 0, to: output, inputName: encoded.path, outputName: outputPath) } catch {
            throw OpenError(.malformed, "the original part is not valid base64: \(error.message)")
        }
        return FileDescriptorIO.size(of: outputPath) ?? 0
    }
}
