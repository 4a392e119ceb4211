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
        let decoder = Base64Decoder()
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
/// spaces (CR, LF, space, tab) are ignored wherever they are; anything else
/// outside the alphabet, padding anywhere but at the end of the last group
/// of four, data after the padding, or a last group left incomplete is an
/// error. One pass over the text: validating and decoding are the same
/// table lookup, four characters at a time on the common path (a message
/// body crosses two base64 layers when it is opened, so this runs over
/// every byte twice).
final class Base64Decoder {
    /// Per character: its 6-bit value, or one of the markers below.
    private static let table: [UInt8] = {
        var table = [UInt8](repeating: invalid, count: 256)
        for (value, character) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(character)] = UInt8(value)
        }
        for character in "\r\n \t".utf8 { table[Int(character)] = skip }
        table[Int(UInt8(ascii: "="))] = pad
        return table
    }()
    /// The whole-group path's table: per position in a group of four
    /// (256 entries each), a character's 6 bits already shifted into place
    /// in a 24-bit group, or ``notInGroup`` for anything that is not an
    /// alphabet character; OR-ing four entries gives the group or a value
    /// above 24 bits.
    private static let groupTable: [UInt32] = {
        var groupTable = [UInt32](repeating: notInGroup, count: 4 * 256)
        for (character, value) in table.enumerated() where value < 64 {
            for position in 0..<4 {
                groupTable[position * 256 + character] = UInt32(value) << (18 - 6 * UInt32(position))
            }
        }
        return groupTable
    }()
    private static let notInGroup: UInt32 = 1 << 24
    private static let skip: UInt8 = 0x40
    private static let pad: UInt8 = 0x41
    private static let invalid: UInt8 = 0xFF

    private enum Padding {
        case none
        /// `xx=` seen: one more `=` ends the group.
        case needsOne
        /// The last group ended with padding: only white space may follow.
        case ended
    }

    /// The 6-bit values of the group of four being read (`held` of them).
    private var accumulator: UInt32 = 0
    private var held = 0
    private var padding = Padding.none
    private var total = 0

    init() {}

    /// Decodes the next piece of base64 text (any length, split anywhere).
    func update(_ text: [UInt8]) throws(Base64Stream.DecodeError) -> [UInt8] {
        guard !text.isEmpty else { return [] }
        // Four characters make at most three bytes; one byte more because
        // a group is stored as four bytes (the fourth is the next group's).
        var produced = 0
        let output = [UInt8](unsafeUninitializedCapacity: (text.count + held) / 4 * 3 + 4) { out, initialized in
            produced = text.withUnsafeBufferPointer { input in
                Self.table.withUnsafeBufferPointer { table in
                    Self.groupTable.withUnsafeBufferPointer { groupTable in
                        decode(input, into: out, table: table, groupTable: groupTable)
                    }
                }
            }
            initialized = max(0, produced)
        }
        guard produced >= 0 else {
            throw Base64Stream.DecodeError(message: "the data holds characters outside the base64 alphabet, misplaced padding or data after its padding")
        }
        total += produced
        return output
    }

    /// Decodes `input` into `out`; returns how many bytes it wrote, or -1
    /// for text that is not base64.
    private func decode(_ input: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>,
                        table: UnsafeBufferPointer<UInt8>, groupTable: UnsafeBufferPointer<UInt32>) -> Int {
        guard let outBase = out.baseAddress else { return input.isEmpty ? 0 : -1 }
        let outBytes = UnsafeMutableRawPointer(outBase)
        var index = 0
        var produced = 0
        let count = input.count
        while index < count {
            // Whole groups of four alphabet characters, three bytes each.
            if held == 0, case .none = padding {
                while index + 4 <= count {
                    let group = groupTable[Int(input[index])] | groupTable[256 + Int(input[index + 1])]
                        | groupTable[512 + Int(input[index + 2])] | groupTable[768 + Int(input[index + 3])]
                    if group >= Self.notInGroup { break }
                    // The three bytes, big-endian, and one byte the next
                    // group (or nothing: it is past `produced`) overwrites.
                    outBytes.storeBytes(of: (group << 8).bigEndian, toByteOffset: produced, as: UInt32.self)
                    produced += 3
                    index += 4
                }
                if index >= count { break }
            }
            // One character at a time: white space, a group split by a line
            // break or a chunk's end, padding, or an error.
            let value = table[Int(input[index])]
            index += 1
            switch value {
            case Self.skip:
                continue
            case Self.pad:
                switch padding {
                case .none where held == 3:
                    // xxx= : two bytes.
                    out[produced] = UInt8(truncatingIfNeeded: accumulator >> 10)
                    out[produced + 1] = UInt8(truncatingIfNeeded: accumulator >> 2)
                    produced += 2
                    padding = .ended
                case .none where held == 2:
                    padding = .needsOne
                    continue
                case .needsOne:
                    // xx== : one byte.
                    out[produced] = UInt8(truncatingIfNeeded: accumulator >> 4)
                    produced += 1
                    padding = .ended
                default:
                    return -1
                }
                held = 0
                accumulator = 0
            case Self.invalid:
                return -1
            default:
                guard case .none = padding else { return -1 }
                accumulator = accumulator << 6 | UInt32(value)
                held += 1
                if held == 4 {
                    out[produced] = UInt8(truncatingIfNeeded: accumulator >> 16)
                    out[produced + 1] = UInt8(truncatingIfNeeded: accumulator >> 8)
                    out[produced + 2] = UInt8(truncatingIfNeeded: accumulator)
                    produced += 3
                    held = 0
                    accumulator = 0
                }
            }
        }
        return produced
    }

    /// Ends the text: returns the last bytes (none: every group was
    /// complete), or throws when it was truncated or empty.
    func finish() throws(Base64Stream.DecodeError) -> [UInt8] {
        guard held == 0 else { throw Base64Stream.DecodeError(message: "base64 data is truncated") }
        if case .needsOne = padding { throw Base64Stream.DecodeError(message: "base64 data is truncated") }
        if total == 0 { throw Base64Stream.DecodeError(message: "no base64 data") }
        return []
    }
}
