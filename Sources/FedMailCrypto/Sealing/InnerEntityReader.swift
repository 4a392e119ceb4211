import FedMailCore
import Foundation

/// The inner entity of a sealed message (``SealedInnerEntity``: its prefix,
/// the exact original read where it is, the control part), produced piece
/// by piece as the signer reads it — never written to a file. The original
/// is searched for the entity's delimiter on the way: when it occurs
/// (``boundaryOccurs``), the entity is unusable and is made again with
/// another boundary.
final class InnerEntityReader {
    private let original: MessageInputReader
    private var head: [UInt8]
    private var tail: [UInt8]
    private var headOffset = 0
    private var tailOffset = 0
    private var originalDone = false
    private var scanner: PatternScanner
    /// Original bytes read and not yet handed on.
    private var buffer: [UInt8] = []
    private var bufferOffset = 0

    /// Whether the original holds the delimiter of this entity's boundary
    /// (known once the whole entity was read).
    var boundaryOccurs: Bool { scanner.match != nil }

    /// Reads `original` (its file opened now, closed with the reader).
    init(entity: SealedInnerEntity, controlJSON: [UInt8], original: MessageInput) throws(CryptoError) {
        self.original = try MessageInputReader(original)
        head = entity.prefix
        tail = entity.suffix(controlJSON: controlJSON)
        scanner = PatternScanner(pattern: entity.delimiterPattern)
        // The line end closing the part header precedes the original: scan from it.
        scanner.feed([10])
    }

    /// Fills `target` with the next bytes of the entity; 0 once it is all read.
    func read(into target: UnsafeMutableRawBufferPointer) throws(CryptoError) -> Int {
        guard let base = target.baseAddress, !target.isEmpty else { return 0 }
        if headOffset < head.count { return copy(from: head, offset: &headOffset, to: base, capacity: target.count) }
        if !originalDone {
            if bufferOffset == buffer.count {
                buffer = try original.next(maxCount: 256 * 1024)
                bufferOffset = 0
                if buffer.isEmpty { originalDone = true } else { scanner.feed(buffer) }
            }
            if !originalDone { return copy(from: buffer, offset: &bufferOffset, to: base, capacity: target.count) }
        }
        return copy(from: tail, offset: &tailOffset, to: base, capacity: target.count)
    }

    private func copy(from bytes: [UInt8], offset: inout Int, to target: UnsafeMutableRawPointer, capacity: Int) -> Int {
        let count = min(capacity, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            if let start = source.baseAddress { target.copyMemory(from: start + offset, byteCount: count) }
        }
        offset += count
        return count
    }
}
