internal import COpenSSL

/// Base64 (RFC 2045: 76-character lines, each ended by `lineEnding`)
/// written to a file as the bytes arrive, in any pieces: what a sealed
/// message's body is. Holds less than one output block, whatever the size
/// of the stream.
final class Base64LineWriter {
    /// The bytes of one encoded line.
    static let lineInput = 57
    private static let lineOutput = 76
    /// Input bytes encoded per write: whole lines.
    private static let blockInput = lineInput * 1024

    private let fd: Int32
    private let name: String
    private let lineEnding: [UInt8]
    /// Input not yet encoded: less than a block.
    private var pending: [UInt8] = []
    private var output: [UInt8]

    init(fd: Int32, lineEnding: [UInt8], name: String) {
        self.fd = fd
        self.name = name
        self.lineEnding = lineEnding
        pending.reserveCapacity(Self.blockInput)
        output = [UInt8](repeating: 0, count: (Self.blockInput / Self.lineInput) * (Self.lineOutput + 1 + lineEnding.count))
    }

    /// Encodes and writes every whole block of `bytes` (with what was pending).
    func write(_ bytes: UnsafeRawBufferPointer) throws(CryptoError) {
        var rest = bytes[...]
        while !rest.isEmpty {
            let take = min(rest.count, Self.blockInput - pending.count)
            pending.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            if pending.count == Self.blockInput { try flushPending() }
        }
    }

    /// Writes what is pending: the last line, ended like every other.
    func finish() throws(CryptoError) {
        try flushPending()
    }

    /// Encodes `pending` line by line (OpenSSL's `EVP_EncodeBlock`, at C
    /// speed) and writes the lines.
    private func flushPending() throws(CryptoError) {
        guard !pending.isEmpty else { return }
        let ending = lineEnding
        let length: Int = pending.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                guard let source = input.baseAddress, let target = out.baseAddress else { return 0 }
                var read = 0, written = 0
                while read < input.count {
                    let line = min(Self.lineInput, input.count - read)
                    // EVP_EncodeBlock writes the line and a NUL, overwritten next.
                    written += Int(EVP_EncodeBlock(target + written, source + read, Int32(line)))
                    for byte in ending { target[written] = byte; written += 1 }
                    read += line
                }
                return written
            }
        }
        pending.removeAll(keepingCapacity: true)
        try FileDescriptorIO.writeAll(fd: fd, output, count: length, name: name)
    }
}
