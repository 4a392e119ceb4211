import Foundation

/// Streaming base64 (RFC 2045, 76-character lines) between files.
enum Base64Stream {
    /// Appends the base64 of the file at `inputPath` to `fd`, lines ended by `lineEnding`.
    static func encode(inputPath: String, to fd: Int32, lineEnding: [UInt8], outputName: String) throws(CryptoError) {
        let input = try FileDescriptorIO.openRead(inputPath)
        defer { close(input) }
        let chunk = 57 * 16 * 1024 // whole lines per chunk
        let options: Data.Base64EncodingOptions = lineEnding == [13, 10]
            ? [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed]
            : [.lineLength76Characters, .endLineWithLineFeed]
        while true {
            let bytes = try FileDescriptorIO.read(fd: input, count: chunk, name: inputPath)
            if bytes.isEmpty { break }
            var encoded = [UInt8](Data(bytes).base64EncodedData(options: options))
            encoded += lineEnding
            try FileDescriptorIO.writeAll(fd: fd, encoded, name: outputName)
            if bytes.count < chunk { break }
        }
    }

    /// A reason base64 input was refused.
    struct DecodeError: Error { var message: String }

    /// Decodes base64 text from `offset` of `input` to `fd`, ignoring line
    /// breaks and spaces; anything else outside the alphabet is an error.
    static func decode(input: Int32, offset: Int, to fd: Int32, inputName: String, outputName: String) throws(DecodeError) {
        guard lseek(input, off_t(offset), SEEK_SET) >= 0 else { throw DecodeError(message: "cannot seek \(inputName)") }
        var pending: [UInt8] = []
        var sawPadding = false
        var total = 0
        while true {
            let bytes: [UInt8]
            do { bytes = try FileDescriptorIO.read(fd: input, count: 1 << 20, name: inputName) } catch { throw DecodeError(message: error.message) }
            if bytes.isEmpty { break }
            pending.reserveCapacity(pending.count + bytes.count)
            for b in bytes {
                switch b {
                case 65...90, 97...122, 48...57, 43, 47:
                    if sawPadding { throw DecodeError(message: "base64 data continues after padding") }
                    pending.append(b)
                case 61:
                    sawPadding = true
                    pending.append(b)
                case 13, 10, 32, 9:
                    continue
                default:
                    throw DecodeError(message: "byte 0x\(String(b, radix: 16)) is not base64")
                }
            }
            let usable = sawPadding ? pending.count : pending.count - pending.count % 4
            if usable > 0 && !sawPadding {
                try flush(Array(pending[..<usable]), to: fd, outputName: outputName, total: &total)
                pending.removeFirst(usable)
            }
        }
        if !pending.isEmpty {
            guard pending.count % 4 == 0 else { throw DecodeError(message: "base64 data is truncated") }
            try flush(pending, to: fd, outputName: outputName, total: &total)
        }
        if total == 0 { throw DecodeError(message: "no base64 data") }
    }

    private static func flush(_ text: [UInt8], to fd: Int32, outputName: String, total: inout Int) throws(DecodeError) {
        guard let data = Data(base64Encoded: Data(text)) else { throw DecodeError(message: "invalid base64 padding") }
        do { try FileDescriptorIO.writeAll(fd: fd, [UInt8](data), name: outputName) } catch {
            throw DecodeError(message: error.message)
        }
        total += data.count
    }
}
