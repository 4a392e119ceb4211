import FedMailCore

/// Where the bytes of a sealed message are: a file holding the whole
/// message, or a header section with the body apart — as a milter has it
/// (the header fields in memory, the body spooled to a file or kept in
/// memory), so the message need not be written out again to be opened.
public enum SealedMessageInput: Sendable {
    /// The whole message in a file.
    case file(path: String)
    /// The header section (fields and the empty line that ends it) and the body.
    case parts(header: [UInt8], body: Body)

    /// The body of ``parts(header:body:)``.
    public enum Body: Sendable {
        /// The whole body in a file (from its first byte).
        case file(path: String)
        /// The whole body in memory.
        case bytes([UInt8])
    }
}
