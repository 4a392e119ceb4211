import Foundation

/// Where a ``BERReader`` takes its bytes from: a file, or the base64 body
/// of a MIME entity decoded on the fly. Reads are chunked, so a source
/// never holds more than one chunk.
protocol BERByteSource: AnyObject {
    /// An upper bound on how many bytes the source can still deliver in
    /// total (from its start); definite lengths beyond it are refused early.
    var capacity: Int { get }

    /// The next bytes (at most `maxCount`); empty at the end.
    func read(maxCount: Int) throws(BERError) -> [UInt8]
}

/// The bytes a base64 text decodes to: in a file from an offset on (the
/// body of a MIME entity), in memory, or read on demand after a first
/// piece in memory (a decryption's output). Invalid or truncated base64 is
/// ``BERError/Kind/malformed``. A file descriptor is borrowed.
final class Base64ByteSource: BERByteSource {
    private enum Text {
        case file(fd: Int32, name: String)
        case memory([UInt8], offset: Int)
        case stream(next: (Int) throws(BERError) -> [UInt8])
    }

    private var text: Text
    private let decoder: Base64Decoder
    private var pending: [UInt8] = []
    private var finished = false
    let capacity: Int

    /// Decodes `fd` from `offset` on; `size` is the file size.
    init(fd: Int32, offset: Int, size: Int, name: String) throws(BERError) {
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else { throw BERError(.io, "cannot seek \(name)") }
        decoder = Base64Decoder()
        text = .file(fd: fd, name: name)
        // Four characters make at most three bytes.
        self.capacity = max(0, size - offset) / 4 * 3 + 3
    }

    /// Decodes `bytes`.
    init(bytes: [UInt8]) {
        decoder = Base64Decoder()
        text = .memory(bytes, offset: 0)
        self.capacity = bytes.count / 4 * 3 + 3
    }

    /// Decodes `prefix`, then the text `next` gives (at most its argument
    /// in bytes per call; empty at the end), at most `textCapacity` bytes
    /// of text in all.
    init(prefix: [UInt8], textCapacity: Int, next: @escaping (Int) throws(BERError) -> [UInt8]) {
        decoder = Base64Decoder()
        var prefixPending = prefix.isEmpty ? nil : prefix
        text = .stream(next: { count throws(BERError) in
            if let first = prefixPending {
                prefixPending = nil
                return first
            }
            return try next(count)
        })
        self.capacity = max(0, textCapacity) / 4 * 3 + 3
    }

    /// The next piece of base64 text, at most `count` characters; empty at the end.
    private func nextText(count: Int) throws(BERError) -> [UInt8] {
        switch text {
        case .file(let fd, let name):
            do { return try FileDescriptorIO.read(fd: fd, count: count, name: name) } catch { throw BERError(.io, error.message) }
        case .memory(let bytes, let offset):
            let end = min(bytes.count, offset + count)
            text = .memory(bytes, offset: end)
            return Array(bytes[offset..<end])
        case .stream(let next):
            return try next(count)
        }
    }

    func read(maxCount: Int) throws(BERError) -> [UInt8] {
        while pending.isEmpty && !finished {
            let text = try nextText(count: max(4096, maxCount / 3 * 4))
            do {
                if text.isEmpty {
                    finished = true
                    pending = try decoder.finish()
                } else {
                    pending = try decoder.update(text)
                }
            } catch {
                throw BERError(.malformed, "the body is not valid base64: \(error.message)")
            }
        }
        if pending.count <= maxCount {
            defer { pending = [] }
            return pending
        }
        let head = Array(pending[..<maxCount])
        pending.removeSubrange(..<maxCount)
        return head
    }
}

/// Bytes in memory as a ``BERByteSource`` (a small structure already
/// held), handed out at most `chunk` bytes at a time (tests use small
/// chunks to exercise every buffer boundary), with an optional claimed capacity.
final class MemoryByteSource: BERByteSource {
    private let bytes: [UInt8]
    private let chunk: Int
    private var position = 0
    let capacity: Int

    init(_ bytes: [UInt8], chunk: Int = 1 << 20, capacity: Int? = nil) {
        self.bytes = bytes
        self.chunk = max(1, chunk)
        self.capacity = capacity ?? bytes.count
    }

    func read(maxCount: Int) throws(BERError) -> [UInt8] {
        let n = min(maxCount, chunk, bytes.count - position)
        defer { position += n }
        return Array(bytes[position..<(position + n)])
    }
}
