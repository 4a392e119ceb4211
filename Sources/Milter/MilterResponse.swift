internal import CMilter

/// What a handler tells the MTA after a callback.
public struct MilterResponse: Sendable, Hashable {
    /// The disposition of the connection, message or recipient.
    public enum Status: Sendable, Hashable {
        /// Go on with the next step.
        case `continue`
        /// Accept the message (or connection) without further filtering.
        case accept
        /// Reject: the whole connection, the message, or (at RCPT) this recipient.
        case reject
        /// Accept but silently drop the message. Use with great care.
        case discard
        /// Temporary failure: the client keeps the mail and retries.
        case tempfail
        /// Skip further body chunks (only from the body callback, when the
        /// MTA supports it; otherwise treated as continue).
        case skip
    }

    /// The disposition.
    public var status: Status
    /// A custom SMTP reply for ``Status/reject`` or ``Status/tempfail``.
    public var reply: SMTPReply?

    public init(status: Status, reply: SMTPReply? = nil) {
        self.status = status
        self.reply = reply
    }

    /// Go on.
    public static let `continue` = MilterResponse(status: .continue)
    /// Accept without further filtering.
    public static let accept = MilterResponse(status: .accept)
    /// Reject with the MTA's default reply.
    public static let reject = MilterResponse(status: .reject)
    /// Drop silently.
    public static let discard = MilterResponse(status: .discard)
    /// Temporary failure with the MTA's default reply.
    public static let tempfail = MilterResponse(status: .tempfail)
    /// Skip the rest of the body.
    public static let skip = MilterResponse(status: .skip)

    /// Reject with a custom reply (which should be `5xx`).
    public static func reject(with reply: SMTPReply) -> MilterResponse {
        MilterResponse(status: .reject, reply: reply)
    }

    /// Temporary failure with a custom reply (which should be `4xx`).
    public static func tempfail(with reply: SMTPReply) -> MilterResponse {
        MilterResponse(status: .tempfail, reply: reply)
    }

    /// The libmilter status code.
    var libmilterStatus: sfsistat {
        switch status {
        case .continue: return sfsistat(SMFIS_CONTINUE)
        case .accept: return sfsistat(SMFIS_ACCEPT)
        case .reject: return sfsistat(SMFIS_REJECT)
        case .discard: return sfsistat(SMFIS_DISCARD)
        case .tempfail: return sfsistat(SMFIS_TEMPFAIL)
        case .skip: return sfsistat(SMFIS_SKIP)
        }
    }
}
