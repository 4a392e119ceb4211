import Foundation

/// Why BER input could not be read.
struct BERError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        /// The input is not well-formed BER (or not the expected structure).
        case malformed
        /// A local read or write failed: not the input's fault.
        case io
    }

    var kind: Kind
    var message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    var description: String { message }
}

/// The identifier and length octets of one BER element (X.690 §8.1).
struct BERHeader: Sendable, Hashable {
    /// Universal 0, application 1, context-specific 2, private 3.
    var tagClass: UInt8
    var constructed: Bool
    var tagNumber: UInt32
    /// The content length; nil for the indefinite form.
    var length: Int?
    /// The header exactly as encoded.
    var encoded: [UInt8]

    static let universal: UInt8 = 0
    static let contextSpecific: UInt8 = 2

    /// True for the end-of-contents octets (00 00).
    var isEndOfContents: Bool { tagClass == 0 && tagNumber == 0 }

    func isUniversal(_ number: UInt32) -> Bool { tagClass == Self.universal && tagNumber == number }

    func isContext(_ number: UInt32) -> Bool { tagClass == Self.contextSpecific && tagNumber == number }

    /// Universal tag numbers used here.
    static let octetString: UInt32 = 4
    static let objectIdentifier: UInt32 = 6
    static let sequence: UInt32 = 16
    static let set: UInt32 = 17
}

/// A streaming BER/DER reader over a ``BERByteSource``, for CMS structures
/// whose content is far larger than memory should hold. Only a small
/// buffer is kept; large contents are copied straight to a file descriptor.
///
/// Strict: every definite length must fit in its enclosing element and in
/// what the source can still deliver, nesting is limited, and premature end
/// of input, invalid length forms or an end-of-contents where none belongs
/// are ``BERError/Kind/malformed``. Every step consumes input, so no input
/// makes it loop forever.
final class BERReader {
    /// How deep constructed elements may nest.
    static let maximumDepth = 32
    private static let bufferSize = 256 * 1024

    private let source: any BERByteSource
    private var buffer: [UInt8] = []
    private var index = 0
    private var sourceEnded = false
    /// Bytes consumed so far (offset from the start of the source).
    private(set) var offset = 0

    init(source: any BERByteSource) {
        self.source = source
    }

    /// How many bytes the input can still hold at most.
    var remainingCapacity: Int { max(0, source.capacity - offset) }

    // MARK: - bytes

    /// Makes at least one byte available; false at the end of the input.
    private func fill() throws(BERError) -> Bool {
        if index < buffer.count { return true }
        if sourceEnded { return false }
        buffer = try source.read(maxCount: Self.bufferSize)
        index = 0
        if buffer.isEmpty { sourceEnded = true }
        return !buffer.isEmpty
    }

    /// True when the input has no more bytes.
    func atEnd() throws(BERError) -> Bool { try !fill() }

    /// The next byte, without consuming it; nil at the end.
    func peekByte() throws(BERError) -> UInt8? {
        guard try fill() else { return nil }
        return buffer[index]
    }

    /// The next byte.
    func byte() throws(BERError) -> UInt8 {
        guard try fill() else { throw BERError(.malformed, "the data ends early (at byte \(offset))") }
        let value = buffer[index]
        index += 1
        offset += 1
        return value
    }

    /// The next `count` bytes.
    func bytes(_ count: Int) throws(BERError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            guard try fill() else { throw BERError(.malformed, "the data ends early (at byte \(offset), \(count - out.count) more expected)") }
            let n = min(count - out.count, buffer.count - index)
            out.append(contentsOf: buffer[index..<(index + n)])
            index += n
            offset += n
        }
        return out
    }

    /// Copies the next `count` bytes to `fd` (or skips them when `fd` is nil).
    private func copy(_ count: Int, to fd: Int32?, name: String) throws(BERError) {
        var left = count
        while left > 0 {
            guard try fill() else { throw BERError(.malformed, "the data ends early (at byte \(offset), \(left) more expected)") }
            let n = min(left, buffer.count - index)
            if fd != nil {
                output.append(contentsOf: buffer[index..<(index + n)])
                if output.count >= Self.outputBlock { try flushOutput(to: fd, name: name) }
            }
            index += n
            offset += n
            left -= n
        }
    }

    /// Content octets copied and not yet written: they go out in blocks of
    /// ``outputBlock``, not one write per (often 4 KiB) segment.
    private var output: [UInt8] = []
    private static let outputBlock = 256 * 1024

    /// Writes the content octets still held.
    private func flushOutput(to fd: Int32?, name: String) throws(BERError) {
        guard let fd, !output.isEmpty else { return }
        do { try FileDescriptorIO.writeAll(fd: fd, output, name: name) } catch { throw BERError(.io, error.message) }
        output.removeAll(keepingCapacity: true)
    }

    // MARK: - elements

    /// Reads an identifier and length; the content is next.
    ///
    /// - Parameter end: the offset the enclosing element ends at (nil when
    ///   it has the indefinite form); a definite length past it is refused.
    func header(within end: Int?) throws(BERError) -> BERHeader {
        let start = offset
        var encoded: [UInt8] = []
        let first = try byte()
        encoded.append(first)
        let tagClass = first >> 6
        let constructed = first & 0x20 != 0
        var number = UInt32(first & 0x1F)
        if number == 0x1F {
            // High tag number form: base-128, at most four octets.
            number = 0
            var octets = 0
            while true {
                let b = try byte()
                encoded.append(b)
                octets += 1
                guard octets <= 4, !(octets == 1 && b == 0x80) else { throw BERError(.malformed, "invalid tag number at byte \(start)") }
                number = number << 7 | UInt32(b & 0x7F)
                if b & 0x80 == 0 { break }
            }
        }
        let lengthByte = try byte()
        encoded.append(lengthByte)
        var length: Int?
        if lengthByte < 0x80 {
            length = Int(lengthByte)
        } else if lengthByte == 0x80 {
            guard constructed else { throw BERError(.malformed, "indefinite length on a primitive element at byte \(start)") }
            length = nil
        } else {
            let count = Int(lengthByte & 0x7F)
            guard count <= 8, lengthByte != 0xFF else { throw BERError(.malformed, "invalid length at byte \(start)") }
            var value: UInt64 = 0
            for _ in 0..<count {
                let b = try byte()
                encoded.append(b)
                value = value << 8 | UInt64(b)
            }
            guard value <= UInt64(Int.max / 2) else { throw BERError(.malformed, "length too large at byte \(start)") }
            length = Int(value)
        }
        let header = BERHeader(tagClass: tagClass, constructed: constructed, tagNumber: number, length: length, encoded: encoded)
        if header.isEndOfContents, header.constructed || header.length != 0 {
            throw BERError(.malformed, "invalid end-of-contents at byte \(start)")
        }
        if let length {
            guard length <= remainingCapacity else {
                throw BERError(.malformed, "length \(length) at byte \(start) exceeds the data")
            }
            if let end, offset + length > end {
                throw BERError(.malformed, "length \(length) at byte \(start) exceeds its enclosing element")
            }
        }
        return header
    }

    /// True when the element that ends at `end` (nil: indefinite) has
    /// another child; consumes its end-of-contents when it has not.
    func hasMoreContent(before end: Int?) throws(BERError) -> Bool {
        if let end {
            guard offset <= end else { throw BERError(.malformed, "an element overruns its enclosing element at byte \(end)") }
            return offset < end
        }
        guard try peekByte() == 0 else {
            if try atEnd() { throw BERError(.malformed, "the data ends before an end-of-contents (at byte \(offset))") }
            return true
        }
        let eoc = try header(within: nil)
        guard eoc.isEndOfContents else { throw BERError(.malformed, "invalid tag 0 at byte \(offset)") }
        return false
    }

    /// Reads the content of `header`'s element and returns the whole element
    /// as encoded (header included), checking the nesting of indefinite-length
    /// contents. `budget` is how many bytes may still be kept in memory.
    func remainder(of header: BERHeader, depth: Int, budget: inout Int) throws(BERError) -> [UInt8] {
        guard depth <= Self.maximumDepth else { throw BERError(.malformed, "nested more than \(Self.maximumDepth) levels") }
        guard header.encoded.count <= budget else { throw BERError(.malformed, "the structure is too large to hold in memory") }
        budget -= header.encoded.count
        if let length = header.length {
            guard length <= budget else { throw BERError(.malformed, "an element of \(length) bytes is too large to hold in memory") }
            budget -= length
            return header.encoded + (try bytes(length))
        }
        var out = header.encoded
        while try hasMoreContent(before: nil) {
            let child = try self.header(within: nil)
            out += try remainder(of: child, depth: depth + 1, budget: &budget)
        }
        guard budget >= 2 else { throw BERError(.malformed, "the structure is too large to hold in memory") }
        budget -= 2
        out += [0, 0]
        return out
    }

    /// Reads a whole element (kept in memory, within `budget`).
    func element(within end: Int?, depth: Int, budget: inout Int) throws(BERError) -> (header: BERHeader, encoded: [UInt8]) {
        let header = try self.header(within: end)
        guard !header.isEndOfContents else { throw BERError(.malformed, "unexpected end-of-contents at byte \(offset - 2)") }
        return (header, try remainder(of: header, depth: depth, budget: &budget))
    }

    /// Copies the octets of an OCTET STRING whose header was just read to
    /// `fd` (or skips them when nil) and returns how many there were. The
    /// string may be primitive or constructed from segments (BER), which
    /// must themselves be OCTET STRINGs.
    @discardableResult
    func streamOctets(of header: BERHeader, depth: Int, to fd: Int32?, name: String) throws(BERError) -> Int {
        let total = try streamSegments(of: header, depth: depth, to: fd, name: name)
        try flushOutput(to: fd, name: name)
        return total
    }

    private func streamSegments(of header: BERHeader, depth: Int, to fd: Int32?, name: String) throws(BERError) -> Int {
        guard depth <= Self.maximumDepth else { throw BERError(.malformed, "nested more than \(Self.maximumDepth) levels") }
        if !header.constructed {
            let length = header.length ?? 0
            try copy(length, to: fd, name: name)
            return length
        }
        let end = header.length.map { offset + $0 }
        var total = 0
        while try hasMoreContent(before: end) {
            let segment = try self.header(within: end)
            guard segment.isUniversal(BERHeader.octetString) else {
                throw BERError(.malformed, "a segment of a constructed OCTET STRING is not an OCTET STRING (at byte \(offset - segment.encoded.count))")
            }
            total += try streamSegments(of: segment, depth: depth + 1, to: fd, name: name)
        }
        return total
    }

    // MARK: - encoding

    /// The DER header of an element with `tag` (identifier octet) and a definite `length`.
    static func encodeHeader(tag: UInt8, length: Int) -> [UInt8] {
        if length < 0x80 { return [tag, UInt8(length)] }
        var octets: [UInt8] = []
        var value = length
        while value > 0 {
            octets.insert(UInt8(value & 0xFF), at: 0)
            value >>= 8
        }
        return [tag, 0x80 | UInt8(octets.count)] + octets
    }

    /// A constructed element with `tag` around `content`, definite length.
    static func encode(tag: UInt8, content: [UInt8]) -> [UInt8] {
        encodeHeader(tag: tag, length: content.count) + content
    }
}
