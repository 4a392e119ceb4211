/// The Swift side of one MTA connection. The bridge creates one handler per
/// connection (through the factory given to ``MilterServer``), calls it for
/// each step it asked for in ``MilterServer/Configuration/requirements``, and
/// releases it after ``close(session:)``.
///
/// Callbacks of one connection never run at the same time, so a handler may
/// keep per-connection state in stored properties. Every method has a
/// default that continues, so a handler implements only what it needs. A
/// thrown error goes to ``failed(_:stage:session:)`` (default: tempfail), so
/// an internal error never loses mail.
public protocol MilterHandler: AnyObject {
    /// A client connected to the MTA.
    func connect(session: MilterSession) throws -> MilterResponse
    /// HELO or EHLO.
    func helo(_ name: String, session: MilterSession) throws -> MilterResponse
    /// `MAIL FROM`, with its ESMTP arguments; a new transaction has started.
    func envelopeSender(_ sender: String, arguments: [String], session: MilterSession) throws -> MilterResponse
    /// One `RCPT TO`. Reject or tempfail here refuses only this recipient.
    func envelopeRecipient(_ recipient: MilterRecipient, session: MilterSession) throws -> MilterResponse
    /// `DATA`.
    func data(session: MilterSession) throws -> MilterResponse
    /// One header field (already appended to the transaction when headers
    /// are collected).
    func header(_ field: MilterHeaderField, session: MilterSession) throws -> MilterResponse
    /// End of the header.
    func endOfHeaders(session: MilterSession) throws -> MilterResponse
    /// One body chunk (already appended to the transaction's body when the
    /// body is collected). The buffer is valid only during the call.
    func body(_ chunk: UnsafeRawBufferPointer, session: MilterSession) throws -> MilterResponse
    /// End of message: the only place where `actions` may be used.
    func endOfMessage(session: MilterSession, actions: any MilterMessageActions) throws -> MilterResponse
    /// The MTA aborted the message; the transaction is dropped afterwards.
    func abort(session: MilterSession)
    /// The connection ends (always called, also after an abort or drop).
    func close(session: MilterSession)
    /// A callback threw `error`: decide what the MTA does. Default: tempfail.
    func failed(_ error: any Error, stage: MilterStage, session: MilterSession) -> MilterResponse
}

extension MilterHandler {
    public func connect(session: MilterSession) throws -> MilterResponse { .continue }
    public func helo(_ name: String, session: MilterSession) throws -> MilterResponse { .continue }
    public func envelopeSender(_ sender: String, arguments: [String], session: MilterSession) throws -> MilterResponse { .continue }
    public func envelopeRecipient(_ recipient: MilterRecipient, session: MilterSession) throws -> MilterResponse { .continue }
    public func data(session: MilterSession) throws -> MilterResponse { .continue }
    public func header(_ field: MilterHeaderField, session: MilterSession) throws -> MilterResponse { .continue }
    public func endOfHeaders(session: MilterSession) throws -> MilterResponse { .continue }
    public func body(_ chunk: UnsafeRawBufferPointer, session: MilterSession) throws -> MilterResponse { .continue }
    public func endOfMessage(session: MilterSession, actions: any MilterMessageActions) throws -> MilterResponse { .continue }
    public func abort(session: MilterSession) {}
    public func close(session: MilterSession) {}
    public func failed(_ error: any Error, stage: MilterStage, session: MilterSession) -> MilterResponse { .tempfail }
}
