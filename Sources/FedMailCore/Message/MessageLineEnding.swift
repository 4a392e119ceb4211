/// The line ending a message uses: CRLF as on the wire, or bare LF as
/// in a local mailbox file or a milter body handed over by some MTAs.
public enum MessageLineEnding: String, Sendable, Hashable {
    /// `\r\n`
    case crlf
    /// `\n`
    case lf

    /// The bytes of this line ending.
    public var bytes: [UInt8] { self == .crlf ? [13, 10] : [10] }

    /// The line ending of the first line of `bytes`; CRLF when there is
    /// no line ending at all (the canonical form of RFC 5322).
    public static func detect<C: Collection>(in bytes: C) -> MessageLineEnding where C.Element == UInt8 {
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 10 { return previous == 13 ? .crlf : .lf }
            previous = byte
        }
        return .crlf
    }
}
