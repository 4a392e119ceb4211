/// Reads a ``MessageInput`` from its first byte to its last, in chunks:
/// the whole file, or the header part and then the body (its file, or its
/// bytes), as if the message were one file — what a seal signs, without
/// the message being written out first.
public final class MessageInputReader {
    /// The header part, not handed on yet (empty for a whole-message file).
    private var header: [UInt8]
    /// The body in memory, not handed on yet.
    private var bytes: [UInt8]
    /// The file read after the header part (the whole message, or the body).
    private let fd: Int32?
    private let name: String
    /// The file's bytes still to read, when its length is known.
    private var remaining: Int?

    /// Opens the file of `input`, if it has one (closed on deinit).
    public init(_ input: MessageInput) throws(CryptoError) {
        switch input {
        case .file(let path):
            (header, bytes, name) = ([], [], path)
            fd = try FileDescriptorIO.openRead(path)
        case .parts(let head, .file(let path, let length)):
            (header, bytes, name, remaining) = (head, [], path, length)
            fd = try FileDescriptorIO.openRead(path)
        case .parts(let head, .bytes(let body)):
            (header, bytes, name, fd) = (head, body, "the message body", nil)
        }
    }

    deinit { if let fd { FileDescriptorIO.close(fd) } }

    /// The next bytes of the message (at most `maxCount` from a file; a
    /// part already in memory comes whole); empty once all were read. A
    /// body file of known length is read to that length, and ending
    /// sooner is an `io` error.
    public func next(maxCount: Int) throws(CryptoError) -> [UInt8] {
        if !header.isEmpty {
            defer { header = [] }
            return header
        }
        if let fd {
            guard let left = remaining else { return try FileDescriptorIO.read(fd: fd, count: maxCount, name: name) }
            guard left > 0 else { return [] }
            let chunk = try FileDescriptorIO.read(fd: fd, count: min(maxCount, left), name: name)
            if chunk.isEmpty { throw CryptoError(code: .io, message: "\(name) ended \(left) bytes before the body's end") }
            remaining = left - chunk.count
            return chunk
        }
        defer { bytes = [] }
        return bytes
    }
}
