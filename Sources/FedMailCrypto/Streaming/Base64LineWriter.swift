/// Base64 (RFC 2045: 76-character lines, each ended by `lineEnding`)
/// handed to a sink (a file, the MTA's new body) as the bytes arrive, in any
/// pieces: what a sealed message's body is. Holds less than one line of
/// input and one block of output, whatever the size of the stream.
final class Base64LineWriter {
    /// The bytes of one encoded line.
    static let lineInput = 57
    private static let lineOutput = 76
    /// Encoded lines collected per write: 840 lines of 78 bytes are 65,520
    /// bytes, one block within a milter's 64 KiB body chunk.
    private static let linesPerWrite = 840

    /// Per 12 bits of input, the two characters that encode them (the
    /// first at the lower address: stored little-endian).
    private static let pairs: [UInt16] = (0..<4096).map { bits in
        (UInt16(alphabet[bits >> 6]) | UInt16(alphabet[bits & 63]) << 8).littleEndian
    }
    /// The 64 characters, for the padded end.
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Where each block of lines goes.
    private let sink: (UnsafeRawBufferPointer) throws(CryptoError) -> Void
    private let lineEnding: [UInt8]
    /// Input not yet encoded: less than a line.
    private var pending: [UInt8] = []
    /// Encoded lines not yet written (`filled` bytes of `output`).
    private let output: UnsafeMutableRawBufferPointer
    private var filled = 0

    /// Hands the lines to `sink`, a block of whole lines at a time.
    init(lineEnding: [UInt8], sink: @escaping (UnsafeRawBufferPointer) throws(CryptoError) -> Void) {
        self.sink = sink
        self.lineEnding = lineEnding
        pending.reserveCapacity(Self.lineInput)
        output = .allocate(byteCount: Self.linesPerWrite * (Self.lineOutput + lineEnding.count), alignment: 16)
    }

    deinit { output.deallocate() }

    /// Encodes every whole line of `bytes` (with what was pending) and
    /// writes the lines once a block of them is collected.
    func write(_ bytes: UnsafeRawBufferPointer) throws(CryptoError) {
        guard let base = bytes.baseAddress else { return }
        var index = 0
        if !pending.isEmpty {
            index = min(Self.lineInput - pending.count, bytes.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<index]))
            if pending.count < Self.lineInput { return }
            try encodePending()
        }
        while bytes.count - index >= Self.lineInput {
            try encodeLine(base + index, count: Self.lineInput)
            index += Self.lineInput
        }
        if index < bytes.count { pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index...])) }
    }

    /// Writes what is pending: the last line, ended like every other.
    func finish() throws(CryptoError) {
        try encodePending()
        try flush()
    }

    /// Encodes what is pending as one line (whole, or the last).
    private func encodePending() throws(CryptoError) {
        guard !pending.isEmpty else { return }
        var failure: CryptoError?
        pending.withUnsafeBytes { line in
            do throws(CryptoError) {
                if let start = line.baseAddress { try encodeLine(start, count: line.count) }
            } catch { failure = error }
        }
        pending.removeAll(keepingCapacity: true)
        if let failure { throw failure }
    }

    /// Encodes one line (`count` ≤ 57 bytes; fewer only for the last) and its line ending.
    private func encodeLine(_ source: UnsafeRawPointer, count: Int) throws(CryptoError) {
        if output.count - filled < Self.lineOutput + lineEnding.count { try flush() }
        guard let target = output.baseAddress else { return }
        filled += Self.encode(source, count: count, into: target + filled)
        for byte in lineEnding {
            target.storeBytes(of: byte, toByteOffset: filled, as: UInt8.self)
            filled += 1
        }
    }

    private func flush() throws(CryptoError) {
        guard filled > 0 else { return }
        defer { filled = 0 }
        try sink(UnsafeRawBufferPointer(rebasing: output[..<filled]))
    }

    /// Encodes `count` bytes at `source` into `target` (padded with `=`);
    /// returns the number of characters written, 4 per started 3 bytes.
    static func encode(_ source: UnsafeRawPointer, count: Int, into target: UnsafeMutableRawPointer) -> Int {
        var read = 0, written = 0
        pairs.withUnsafeBufferPointer { pairs in
            while count - read >= 3 {
                let group = UInt32(source.load(fromByteOffset: read, as: UInt8.self)) << 16
                    | UInt32(source.load(fromByteOffset: read + 1, as: UInt8.self)) << 8
                    | UInt32(source.load(fromByteOffset: read + 2, as: UInt8.self))
                target.storeBytes(of: pairs[Int(group >> 12)], toByteOffset: written, as: UInt16.self)
                target.storeBytes(of: pairs[Int(group & 0xFFF)], toByteOffset: written + 2, as: UInt16.self)
                read += 3
                written += 4
            }
        }
        let left = count - read
        guard left > 0 else { return written }
        let first = UInt32(source.load(fromByteOffset: read, as: UInt8.self))
        let second = left == 2 ? UInt32(source.load(fromByteOffset: read + 1, as: UInt8.self)) : 0
        let group = first << 16 | second << 8
        let characters: [UInt8] = [
            alphabet[Int(group >> 18)], alphabet[Int(group >> 12 & 63)],
            left == 2 ? alphabet[Int(group >> 6 & 63)] : UInt8(ascii: "="), UInt8(ascii: "="),
        ]
        for character in characters {
            target.storeBytes(of: character, toByteOffset: written, as: UInt8.self)
            written += 1
        }
        return written
    }
}
