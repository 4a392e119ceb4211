/// The modifications a handler may make to a message, available only during
/// ``MilterHandler/endOfMessage(session:actions:)``.
///
/// The bridge passes its libmilter implementation (bound to the MTA
/// connection); tests pass a recording one (the `MilterTesting` target).
/// Every implementation applies ``MilterActionRules`` before acting — the
/// action was negotiated, we are inside end of message, names, values,
/// occurrences, indexes and reasons are ones the MTA accepts — and throws
/// ``MilterError`` otherwise, so a test double refuses exactly what the
/// bridge refuses. A thrown error goes to the handler's failure policy
/// (tempfail by default). Changes reach the MTA as they are made, and the
/// MTA keeps them unless the answer is tempfail or reject: once
/// ``hasSentChanges`` is true, a failure must be answered with one of
/// those, so a half-modified message is never passed on or held.
///
/// Header values are bytes: the `[UInt8]` requirements pass them exactly
/// (8-bit, bare CR and all); the `String` conveniences send the UTF-8 of
/// the text. Folded values break lines with LF followed by white space, as
/// the MTA passes them to the milter. Names are printable ASCII (validated),
/// so a `String` name is exact.
public protocol MilterMessageActions: AnyObject {
    /// Whether a change to the message — a header field, the body, a
    /// recipient, the sender — has been sent to the MTA in this end of
    /// message, counting one that then failed part-way (a body replaced
    /// up to a broken chunk).
    var hasSentChanges: Bool { get }

    /// Appends a header field whose value is `value`'s exact bytes.
    func addHeader(name: String, value: [UInt8]) throws(MilterError)

    /// Inserts a header field whose value is `value`'s exact bytes at
    /// `index` (0 = before the first field; past the end appends).
    func insertHeader(at index: Int, name: String, value: [UInt8]) throws(MilterError)

    /// Changes the `occurrence`-th (1-based) field called `name` to `value`'s exact bytes.
    func changeHeader(name: String, occurrence: Int, value: [UInt8]) throws(MilterError)

    /// Deletes the `occurrence`-th (1-based) field called `name`.
    func deleteHeader(name: String, occurrence: Int) throws(MilterError)

    /// Replaces the body with chunks produced by `writer`: it is called with a
    /// `write` function to call once per chunk of any size; the bytes reach
    /// the MTA in pieces of at most ``MilterActionRules/replacementChunkSize``
    /// bytes, never the whole body at once. Lines should end in CRLF, as the
    /// MTA sends them. A writer that produces no bytes empties the body.
    func replaceBody(_ writer: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws

    /// Adds a recipient, with ESMTP arguments when given.
    func addRecipient(_ address: String, arguments: [String]) throws(MilterError)

    /// Deletes a recipient, given exactly as it appeared in `RCPT TO`.
    func deleteRecipient(_ address: String) throws(MilterError)

    /// Changes the envelope sender, with ESMTP arguments when given.
    func changeSender(_ address: String, arguments: [String]) throws(MilterError)

    /// Puts the message in the MTA's hold queue with a reason (one line).
    func quarantine(reason: String) throws(MilterError)

    /// Tells the MTA the filter is still working, resetting its timeout.
    func progress() throws(MilterError)
}

extension MilterMessageActions {
    /// Appends a header field.
    public func addHeader(name: String, value: String) throws(MilterError) {
        try addHeader(name: name, value: Array(value.utf8))
    }

    /// Inserts a header field at `index` (0 = before the first field).
    public func insertHeader(at index: Int, name: String, value: String) throws(MilterError) {
        try insertHeader(at: index, name: name, value: Array(value.utf8))
    }

    /// Changes the `occurrence`-th (1-based) field called `name`.
    public func changeHeader(name: String, occurrence: Int = 1, value: String) throws(MilterError) {
        try changeHeader(name: name, occurrence: occurrence, value: Array(value.utf8))
    }

    /// Changes the first field called `name` to `value`'s exact bytes.
    public func changeHeader(name: String, value: [UInt8]) throws(MilterError) {
        try changeHeader(name: name, occurrence: 1, value: value)
    }

    /// Deletes the first field called `name`.
    public func deleteHeader(name: String) throws(MilterError) {
        try deleteHeader(name: name, occurrence: 1)
    }

    /// Deletes every field in `fields` — typically all headers of the
    /// transaction, before adding a replacement set.
    public func deleteHeaders(_ fields: [MilterHeaderField]) throws(MilterError) {
        for (name, occurrence) in MilterHeaderField.deletionOrder(of: fields) {
            try deleteHeader(name: name, occurrence: occurrence)
        }
    }

    /// Replaces the body with `bytes`.
    public func replaceBody(with bytes: [UInt8]) throws {
        try replaceBody { write in try bytes.withUnsafeBytes { try write($0) } }
    }

    /// Replaces the body with the contents of a spooled body, streamed from
    /// its file.
    public func replaceBody(from body: SpooledBody) throws {
        try replaceBody { write in try body.forEachChunk(size: MilterActionRules.replacementChunkSize) { try write($0) } }
    }

    /// Adds a recipient without ESMTP arguments.
    public func addRecipient(_ address: String) throws(MilterError) {
        try addRecipient(address, arguments: [])
    }

    /// Changes the envelope sender without ESMTP arguments.
    public func changeSender(_ address: String) throws(MilterError) {
        try changeSender(address, arguments: [])
    }
}

/// The checks every ``MilterMessageActions`` implementation applies before
/// acting: what libmilter and the MTA would refuse, refused the same way
/// whoever implements the actions.
public enum MilterActionRules {
    /// Bytes per `smfi_replacebody` call when writing a new body back.
    public static let replacementChunkSize = 65_536

    /// The action is allowed: inside end of message (`isOpen`) and
    /// negotiated (`granted` contains it). `nil` checks only `isOpen`.
    public static func check(_ action: MilterActions?, granted: MilterActions, isOpen: Bool,
                             _ what: String) throws(MilterError) {
        guard isOpen else {
            throw MilterError(code: .actionOutsideEndOfMessage, message: "\(what) outside end of message")
        }
        if let action, !granted.contains(action) {
            throw MilterError(code: .actionNotNegotiated, message: "\(what): action not negotiated with the MTA")
        }
    }

    /// ``check(_:granted:isOpen:_:)`` for a change to the message (a header
    /// field, a recipient, the sender): once it passes, the change is about
    /// to be sent, and `sentChanges` (the implementation's
    /// ``MilterMessageActions/hasSentChanges``) becomes true — also for a
    /// change that then fails on the way.
    public static func admitChange(_ action: MilterActions, granted: MilterActions, isOpen: Bool, _ what: String,
                                   sentChanges: inout Bool) throws(MilterError) {
        try check(action, granted: granted, isOpen: isOpen, what)
        sentChanges = true
    }

    /// The body replacement both implementations run: `writer`'s chunks
    /// cut into pieces of at most ``replacementChunkSize`` bytes, each given
    /// to `send` (`smfi_replacebody`, or a recording) right after
    /// `willSend` (where the implementation sets
    /// ``MilterMessageActions/hasSentChanges``). Returns whether any piece
    /// was sent; when `writer` returns without writing, `willSend` is
    /// called once more and the caller sends an empty body. A writer that
    /// fails before its first byte sends nothing.
    public static func replaceBody(_ writer: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void,
                                   willSend: () -> Void,
                                   send: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        var sentAnything = false
        try withoutActuallyEscaping(willSend) { willSend in
            try withoutActuallyEscaping(send) { send in
                try writer { chunk in
                    var offset = 0
                    while offset < chunk.count {
                        let end = min(chunk.count, offset + replacementChunkSize)
                        willSend()
                        sentAnything = true
                        try send(UnsafeRawBufferPointer(rebasing: chunk[offset..<end]))
                        offset = end
                    }
                }
            }
        }
        if !sentAnything { willSend() } // the empty new body the caller sends
        return sentAnything
    }

    /// The answer to an end of message whose handler failed (threw), given
    /// the handler's failure answer: when a change was already sent, the
    /// MTA would keep the half-changed message on continue or accept, so
    /// the answer is tempfail; any other answer stands.
    public static func answerAfterFailure(_ response: MilterResponse, sentChanges: Bool) -> MilterResponse {
        guard sentChanges, response.status == .continue || response.status == .accept else { return response }
        return .tempfail
    }

    /// The action a recipient addition needs: with ESMTP arguments or without.
    public static func addRecipientAction(arguments: [String]) -> (action: MilterActions, what: String) {
        arguments.isEmpty ? (.addRecipients, "add recipient") : (.addRecipientsWithArguments, "add recipient with arguments")
    }

    public static func validate(name: String, value: String) throws(MilterError) {
        try validate(name: name, value: Array(value.utf8))
    }

    /// A name of printable ASCII without colon; a value without NUL (it is
    /// passed as a C string). Any other byte of a value is the caller's.
    public static func validate(name: String, value: [UInt8]) throws(MilterError) {
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
            throw MilterError(code: .invalidArgument, message: "invalid header name '\(name)'")
        }
        guard !value.contains(0) else {
            throw MilterError(code: .invalidArgument, message: "header value for \(name) contains NUL")
        }
    }

    /// A 1-based occurrence that fits libmilter's `int`.
    public static func validate(occurrence: Int) throws(MilterError) {
        guard occurrence >= 1, occurrence <= Int(Int32.max) else {
            throw MilterError(code: .invalidArgument, message: "header occurrence must be 1 or more, not \(occurrence)")
        }
    }

    /// A 0-based insertion index that fits libmilter's `int`.
    public static func validate(index: Int) throws(MilterError) {
        guard index >= 0, index <= Int(Int32.max) else {
            throw MilterError(code: .invalidArgument, message: "header index \(index) out of range")
        }
    }

    /// A quarantine reason: one non-empty line without NUL.
    public static func validate(quarantineReason reason: String) throws(MilterError) {
        guard !reason.isEmpty, !reason.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
            throw MilterError(code: .invalidArgument, message: "quarantine reason must be one non-empty line")
        }
    }

    /// The value bytes as the MTA writes them after the colon: with raw
    /// header values negotiated the MTA writes values verbatim, so the
    /// separating space is ours to add.
    public static func wireValue(_ value: [UInt8], rawHeaderValues: Bool) -> [UInt8] {
        guard rawHeaderValues, let first = value.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t") else { return value }
        return [UInt8(ascii: " ")] + value
    }
}
