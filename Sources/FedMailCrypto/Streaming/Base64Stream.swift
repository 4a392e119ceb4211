internal import COpenSSL
import Foundation

/// Streaming base64 decoding (RFC 2045) between files; encoding is
/// ``Base64LineWriter``'s.
enum Base64Stream {
    /// A reason base64 input was refused.
    struct DecodeError: Error { var message: String }

    /// Decodes base64 text from `offset` of `input` to `fd`, ignoring line
    /// breaks and spaces; anything else outside the alphabet, or data after
    /// the padding, is an error (see ``Base64Decoder``).
    static func decode(input: Int32, offset: Int, to fd: Int32, inputName: String, outputName: String) throws(DecodeError) {
        guard lseek(input, off_t(offset), SEEK_SET) >= 0 else { throw DecodeError(message: "cannot seek \(inputName)") }
        let decoder = try Base64Decoder()
        while true {
            let chunk: [UInt8]
            do { chunk = try FileDescriptorIO.read(fd: input, count: 1 << 20, name: inputName) } catch { throw DecodeError(message: error.message) }
            if chunk.isEmpty { break }
            try write(try decoder.update(chunk), to: fd, outputName: outputName)
        }
        try write(try decoder.finish(), to: fd, outputName: outputName)
    }

    private static func write(_ bytes: [UInt8], to fd: Int32, outputName: String) throws(DecodeError) {
        guard !bytes.isEmpty else { return }
        do { try FileDescriptorIO.writeAll(fd: fd, bytes, name: outputName) } catch {
            throw DecodeError(message: error.message)
        }
    }
}

/// Incremental, strict base64 decoding (RFC 2045 bodies): line breaks and
/// spaces are ignored; anything else outside the alphabet, or data after
/// the padding, is an error. Validation uses `strspn` and decoding
/// OpenSSL's EVP_Decode*, so large bodies decode at C speed.
final class Base64Decoder {
    private let context: OpaquePointer
    private var sawPadding = false
    private var total = 0
    private static let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n \t"
    private static let afterPadding = "=\r\n \t"

    init() throws(Base64Stream.DecodeError) {
        guard let context = EVP_ENCODE_CTX_new() else { throw Base64Stream.DecodeError(message: "EVP_ENCODE_CTX_new failed") }
        EVP_DecodeInit(context)
        self.context = context
    }

    deinit { EVP_ENCODE_CTX_free(context) }

    /// Decodes the next piece of base64 text (any length, split anywhere).
    func update(_ text: [UInt8]) throws(Base64Stream.DecodeError) -> [UInt8] {
        guard !text.isEmpty else { return [] }
        let count = text.count
        var chunk = text
        chunk.append(0)
        let valid: Bool = chunk.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { text in
                guard let base = text.baseAddress else { return false }
                if sawPadding { return strspn(base, Self.afterPadding) == count }
                guard strspn(base, Self.alphabet) == count else { return false }
                if let padding = memchr(base, Int32(UInt8(ascii: "=")), count) {
                    sawPadding = true
                    let start = UnsafePointer<CChar>(padding.assumingMemoryBound(to: CChar.self))
                    return strspn(start, Self.afterPadding) == count - base.distance(to: start)
                }
                return true
            }
        }
        guard valid else { throw Base64Stream.DecodeError(message: "the data holds characters outside the base64 alphabet or after its padding") }
        // EVP_DecodeUpdate writes at most 3/4 of its input plus what it held back.
        var output = [UInt8](repeating: 0, count: count / 4 * 3 + 80)
        var produced: Int32 = 0
        let status = output.withUnsafeMutableBufferPointer { out in
            chunk.withUnsafeBufferPointer { EVP_DecodeUpdate(context, out.baseAddress, &produced, $0.baseAddress, Int32(count)) }
        }
        guard status >= 0 else { throw Base64Stream.DecodeError(message: "invalid base64") }
        output.removeSubrange(Int(produced)...)
        total += output.count
        return output
    }

    /// Ends the text: returns the last bytes, or throws when it was truncated or empty.
    func finish() throws(Base64Stream.DecodeError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 80)
        var produced: Int32 = 0
        let status = output.withUnsafeMutableBufferPointer { EVP_DecodeFinal(context, $0.baseAddress, &produced) }
        guard status == 1 else { throw Base64Stream.DecodeError(message: "base64 data is truncated") }
        output.removeSubrange(Int(produced)...)
        total += output.count
        if total == 0 { throw Base64Stream.DecodeError(message: "no base64 data") }
        return output
    }
}
