import COpenSSL
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
    /// breaks and spaces; anything else outside the alphabet, or data after
    /// the padding, is an error. Validation uses `strspn` and decoding
    /// OpenSSL's EVP_Decode*, so large bodies decode at C speed.
    static func decode(input: Int32, offset: Int, to fd: Int32, inputName: String, outputName: String) throws(DecodeError) {
        guard lseek(input, off_t(offset), SEEK_SET) >= 0 else { throw DecodeError(message: "cannot seek \(inputName)") }
        guard let ctx = EVP_ENCODE_CTX_new() else { throw DecodeError(message: "EVP_ENCODE_CTX_new failed") }
        defer { EVP_ENCODE_CTX_free(ctx) }
        EVP_DecodeInit(ctx)
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n \t"
        let afterPadding = "=\r\n \t"
        var sawPadding = false
        var total = 0
        var output = [UInt8](repeating: 0, count: (1 << 20) + 1024)
        while true {
            var chunk: [UInt8]
            do { chunk = try FileDescriptorIO.read(fd: input, count: 1 << 20, name: inputName) } catch { throw DecodeError(message: error.message) }
            if chunk.isEmpty { break }
            let count = chunk.count
            chunk.append(0)
            let valid: Bool = chunk.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { text in
                    guard let base = text.baseAddress else { return false }
                    if sawPadding { return strspn(base, afterPadding) == count }
                    guard strspn(base, alphabet) == count else { return false }
                    if let padding = memchr(base, Int32(UInt8(ascii: "=")), count) {
                        sawPadding = true
                        let start = UnsafePointer<CChar>(padding.assumingMemoryBound(to: CChar.self))
                        return strspn(start, afterPadding) == count - base.distance(to: start)
                    }
                    return true
                }
            }
            guard valid else { throw DecodeError(message: "the data holds characters outside the base64 alphabet or after its padding") }
            var produced: Int32 = 0
            let status = output.withUnsafeMutableBufferPointer { out in
                chunk.withUnsafeBufferPointer { EVP_DecodeUpdate(ctx, out.baseAddress, &produced, $0.baseAddress, Int32(count)) }
            }
            guard status >= 0 else { throw DecodeError(message: "invalid base64") }
            try write(Array(output[0..<Int(produced)]), to: fd, outputName: outputName, total: &total)
        }
        var produced: Int32 = 0
        let status = output.withUnsafeMutableBufferPointer { EVP_DecodeFinal(ctx, $0.baseAddress, &produced) }
        guard status == 1 else { throw DecodeError(message: "base64 data is truncated") }
        try write(Array(output[0..<Int(produced)]), to: fd, outputName: outputName, total: &total)
        if total == 0 { throw DecodeError(message: "no base64 data") }
    }

    private static func write(_ bytes: [UInt8], to fd: Int32, outputName: String, total: inout Int) throws(DecodeError) {
        guard !bytes.isEmpty else { return }
        do { try FileDescriptorIO.writeAll(fd: fd, bytes, name: outputName) } catch {
            throw DecodeError(message: error.message)
        }
        total += bytes.count
    }
}
