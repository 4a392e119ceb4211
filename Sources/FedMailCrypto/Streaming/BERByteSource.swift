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

/// The bytes a base64 text in a file decodes to, from an offset on (the
/// body of a MIME entity). Invalid or truncated base64 is ``BERError/Kind/malformed``.
/// The file descriptor is borrowed.
final class Base64ByteSource: BERByteSource {
    private let fd: Int32
    private let name: String
    private let decoder: Base64Decoder
    private var pending: [UInt8] = []
    private var finished = false
    let capacity: Int

    /// Decodes `fd` from `offset` on; `size` is the file size.
    init(fd: Int32, offset: Int, size: Int, name: String) throws(BERError) {
        guard lseek(fd, off_t(offset), SEEK_SET) >= 0 else { throw BERError(.io, "cannot seek \(name)") }
        do { decoder = try Base64Decoder() } catch { throw BERError(.io, error.message) }
        self.fd = fd
        self.name = name
        // Four characters make at most three bytes.
        self.capacity = max(0, size - offset) / 4 * 3 + 3
    }

    func read(maxCount: Int) throws(BERError) -> [UInt8] {
        while pending.isEmpty && !finished {
            let text: [UInt8]
            do { text = try FileDescriptorIO.read(fd: fd, count: max(4096, maxCount / 3 * 4), name: name) } catch {
                throw BERError(.io, error.message)
            }
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
