import FedMailCore

/// Where the bytes of a message are: a file holding the whole message, or
/// a header section with the body apart — as a milter has it (the header
/// fields in memory, the body spooled to a file or kept in memory), so a
/// message need not be written out again to be sealed or opened.
public enum MessageInput: Sendable {
    /// The whole message in a file.
    case file(path: String)
    /// The header section (fields and the empty line that ends it) and the body.
    case parts(header: [UInt8], body: Body)

    /// The body of ``parts(header:body:)``.
    public enum Body: Sendable {
        /// The whole body in a file (from its first byte). `length`, when
        /// known (a milter's spooled body records it), is the body's size:
        /// a reader takes that many bytes, and a file that ends sooner is
        /// an error, never a shorter message.
        case file(path: String, length: Int? = nil)
        /// The whole body in memory.
        case bytes([UInt8])
    }

    /// The message's header section, parsed: read from the start of the
    /// file (at most `limit` bytes), or the header part as it is. Fails
    /// (`badInput`) unless there is a header section with at least one
    /// field that ends within `limit` bytes (or the file ends first) — a header part must be whole, ended by
    /// its empty line, as the body follows it; a file that cannot be read
    /// is `io`.
    public func headerSection(limit: Int = 8 << 20) throws(CryptoError) -> MessageHeaderSection {
        switch self {
        case .file(let path):
            let fd = try FileDescriptorIO.openRead(path)
            defer { FileDescriptorIO.close(fd) }
            let read = try MessageHeaderSection.read(limit: limit) { () throws(CryptoError) in
                try FileDescriptorIO.read(fd: fd, count: 256 * 1024, name: path)
            }
            guard let header = read else {
                throw CryptoError(code: .badInput, message: "the header section of \(path) does not end within \(limit) bytes")
            }
            guard header.fields.contains(where: { !$0.name.isEmpty }) else {
                throw CryptoError(code: .badInput, message: "\(path) does not start with a message header section")
            }
            return header
        case .parts(let bytes, _):
            guard bytes.count <= limit else {
                throw CryptoError(code: .badInput, message: "the header section is over \(limit) bytes")
            }
            let header = MessageHeaderSection.parse(bytes)
            guard header.fields.contains(where: { !$0.name.isEmpty }), header.hasSeparator, header.length == bytes.count else {
                throw CryptoError(code: .badInput, message: "no header section")
            }
            return header
        }
    }
}
