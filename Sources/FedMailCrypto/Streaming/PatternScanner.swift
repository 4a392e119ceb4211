import Foundation

/// Finds the first occurrence of a byte pattern in a stream fed chunk by
/// chunk, without holding more than one chunk plus the pattern length.
struct PatternScanner {
    let pattern: [UInt8]
    private var carry: [UInt8] = []
    private var consumed = 0 // stream offset of carry[0]
    private(set) var match: Int?

    init(pattern: [UInt8]) { self.pattern = pattern }

    /// Feeds the next chunk; returns the stream offset of the first match once found.
    @discardableResult
    mutating func feed(_ chunk: [UInt8]) -> Int? {
        if let match { return match }
        var buffer = carry
        buffer += chunk
        if let index = Self.firstIndex(of: pattern, in: buffer) {
            match = consumed + index
            return match
        }
        let keep = min(buffer.count, pattern.count - 1)
        consumed += buffer.count - keep
        carry = Array(buffer.suffix(keep))
        return nil
    }

    /// First index of `pattern` in `buffer` (memchr on the first byte).
    static func firstIndex(of pattern: [UInt8], in buffer: [UInt8]) -> Int? {
        guard let first = pattern.first, buffer.count >= pattern.count else { return nil }
        return buffer.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Int? in
            guard let base = raw.baseAddress else { return nil }
            var offset = 0
            let last = raw.count - pattern.count
            while offset <= last {
                guard let hit = memchr(base + offset, Int32(first), last - offset + 1) else { return nil }
                let index = base.distance(to: UnsafeRawPointer(hit))
                if memcmp(base + index, pattern, pattern.count) == 0 { return index }
                offset = index + 1
            }
            return nil
        }
    }
}
