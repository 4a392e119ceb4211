/// One recipient of the envelope: its address and ESMTP arguments.
public struct MilterRecipient: Sendable, Hashable {
    /// The address as given in `RCPT TO`, usually with angle brackets.
    public var address: String
    /// ESMTP parameters such as `NOTIFY=NEVER`.
    public var arguments: [String]

    public init(address: String, arguments: [String]) {
        self.address = address
        self.arguments = arguments
    }

    /// The address without angle brackets.
    public var mailbox: String { MilterTransaction.unbracketed(address) }
}

/// One message of a connection, from `MAIL FROM` to end of message or abort:
/// the envelope, the header fields in order, the body and the message-stage
/// macros. Owned by its ``MilterSession``; its body spool is removed when the
/// message ends, is aborted, or the connection closes.
public final class MilterTransaction {
    /// The envelope sender as given in `MAIL FROM`, usually with angle brackets.
    public internal(set) var sender: String?
    /// ESMTP parameters of `MAIL FROM`, such as `SIZE=1234` or `BODY=8BITMIME`.
    public internal(set) var senderArguments: [String] = []
    /// The recipients in order.
    public internal(set) var recipients: [MilterRecipient] = []
    /// The header fields in order (when the handler collects headers).
    public internal(set) var headers: [MilterHeaderField] = []
    /// The body (when the handler collects the body).
    public let body: SpooledBody
    /// Macros seen during this message (`i`, `{auth_type}`, ...).
    public internal(set) var macros: [String: String] = [:]

    init(body: SpooledBody) {
        self.body = body
    }

    /// The envelope sender without angle brackets (empty for the null sender).
    public var senderMailbox: String? { sender.map(Self.unbracketed) }

    /// The MTA's queue id (macro `i`), once known.
    public var queueID: String? { macros["i"] }

    static func unbracketed(_ address: String) -> String {
        if address.hasPrefix("<"), address.hasSuffix(">"), address.count >= 2 {
            return String(address.dropFirst().dropLast())
        }
        return address
    }
}
