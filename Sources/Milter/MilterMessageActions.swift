internal import CMilter

/// The modifications a handler may make to a message, available only during
/// ``MilterHandler/endOfMessage(session:actions:)``. Each call checks that the
/// action was negotiated and throws ``MilterError`` when libmilter refuses it;
/// the bridge then applies the handler's failure policy (tempfail by default),
/// so a message is never half-modified and passed on silently.
public final class MilterMessageActions {
    private var context: OpaquePointer?
    private let granted: MilterActions
    private let rawHeaderValues: Bool

    /// Bytes per `smfi_replacebody` call when writing a new body back.
    public static let replacementChunkSize = 65_536

    init(context: OpaquePointer, granted: MilterActions, rawHeaderValues: Bool) {
        self.context = context
        self.granted = granted
        self.rawHeaderValues = rawHeaderValues
    }

    /// Called by the bridge when end of message returns.
    func invalidate() { context = nil }

    // Header values are bytes: the `[UInt8]` variants pass them to
    // libmilter exactly (8-bit, bare CR and all); the `String` variants
    // send the UTF-8 of the text. Folded values break lines with LF
    // followed by white space, as the MTA passes them to the milter. Names
    // are printable ASCII (validated), so a `String` name is exact.

    /// Appends a header field.
    public func addHeader(name: String, value: String) throws(MilterError) {
        try addHeader(name: name, value: Array(value.utf8))
    }

    /// Appends a header field whose value is `value`'s exact bytes.
    public func addHeader(name: String, value: [UInt8]) throws(MilterError) {
        let ctx = try check(.addHeaders, "add header")
        try Self.validate(name: name, value: value)
        let result = withMutableCString(name) { n in
            withMutableCString(bytes: wireValue(value)) { v in smfi_addheader(ctx, n, v) }
        }
        try Self.check(result, "smfi_addheader(\(name))")
    }

    /// Inserts a header field at `index` (0 = before the first field).
    public func insertHeader(at index: Int, name: String, value: String) throws(MilterError) {
        try insertHeader(at: index, name: name, value: Array(value.utf8))
    }

    /// Inserts a header field whose value is `value`'s exact bytes at
    /// `index` (0 = before the first field).
    public func insertHeader(at index: Int, name: String, value: [UInt8]) throws(MilterError) {
        let ctx = try check(.addHeaders, "insert header")
        try Self.validate(name: name, value: value)
        guard index >= 0, index <= Int(Int32.max) else {
            throw MilterError(code: .invalidArgument, message: "header index \(index) out of range")
        }
        let result = withMutableCString(name) { n in
            withMutableCString(bytes: wireValue(value)) { v in smfi_insheader(ctx, Int32(index), n, v) }
        }
        try Self.check(result, "smfi_insheader(\(name))")
    }

    /// Changes the `occurrence`-th (1-based) field called `name`.
    public func changeHeader(name: String, occurrence: Int = 1, value: String) throws(MilterError) {
        try changeHeader(name: name, occurrence: occurrence, value: Array(value.utf8))
    }

    /// Changes the `occurrence`-th (1-based) field called `name` to `value`'s exact bytes.
    public func changeHeader(name: String, occurrence: Int = 1, value: [UInt8]) throws(MilterError) {
        let ctx = try check(.changeHeaders, "change header")
        try Self.validate(name: name, value: value)
        try Self.validate(occurrence: occurrence)
        let result = withMutableCString(name) { n in
            withMutableCString(bytes: wireValue(value)) { v in smfi_chgheader(ctx, n, Int32(occurrence), v) }
        }
        try Self.check(result, "smfi_chgheader(\(name))")
    }

    /// Deletes the `occurrence`-th (1-based) field called `name`.
    public func deleteHeader(name: String, occurrence: Int = 1) throws(MilterError) {
        let ctx = try check(.changeHeaders, "delete header")
        try Self.validate(name: name, value: "")
        try Self.validate(occurrence: occurrence)
        let result = withMutableCString(name) { n in smfi_chgheader(ctx, n, Int32(occurrence), nil) }
        try Self.check(result, "smfi_chgheader(\(name), delete)")
    }

    /// Deletes every field in `fields` — typically all headers of the
    /// transaction, before adding a replacement set.
    public func deleteHeaders(_ fields: [MilterHeaderField]) throws(MilterError) {
        for (name, occurrence) in MilterHeaderField.deletionOrder(of: fields) {
            try deleteHeader(name: name, occurrence: occurrence)
        }
    }

    /// Replaces the body with chunks produced by `writer`: it is called with a
    /// `write` function to call once per chunk of any size; the bridge
    /// passes the bytes to the MTA in pieces of at most
    /// ``replacementChunkSize`` bytes, never holding the whole body. Lines
    /// should end in CRLF, as the MTA sends them. A writer that produces no
    /// bytes empties the body.
    public func replaceBody(_ writer: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let ctx = try check(.replaceBody, "replace body")
        var wroteAnything = false
        try writer { chunk in
            var offset = 0
            while offset < chunk.count {
                let end = min(chunk.count, offset + Self.replacementChunkSize)
                let piece = UnsafeRawBufferPointer(rebasing: chunk[offset..<end])
                let result = smfi_replacebody(ctx, UnsafeMutablePointer(mutating: piece.baseAddress!.assumingMemoryBound(to: UInt8.self)), Int32(piece.count))
                try Self.check(result, "smfi_replacebody")
                wroteAnything = true
                offset = end
            }
        }
        if !wroteAnything {
            // An empty replacement still has to reach the MTA, or the old body
            // stays: libmilter sends one zero-length SMFIR_REPLBODY, which
            // Postfix and Sendmail take as "the body is now empty".
            var none: UInt8 = 0
            try Self.check(smfi_replacebody(ctx, &none, 0), "smfi_replacebody")
        }
    }

    /// Replaces the body with `bytes`.
    public func replaceBody(with bytes: [UInt8]) throws {
        try replaceBody { write in try bytes.withUnsafeBytes { try write($0) } }
    }

    /// Replaces the body with the contents of a spooled body, streamed from
    /// its file.
    public func replaceBody(from body: SpooledBody) throws {
        try replaceBody { write in try body.forEachChunk(size: Self.replacementChunkSize) { try write($0) } }
    }

    /// Adds a recipient, with ESMTP arguments when given.
    public func addRecipient(_ address: String, arguments: [String] = []) throws(MilterError) {
        if arguments.isEmpty {
            let ctx = try check(.addRecipients, "add recipient")
            let result = withMutableCString(address) { smfi_addrcpt(ctx, $0) }
            try Self.check(result, "smfi_addrcpt")
        } else {
            let ctx = try check(.addRecipientsWithArguments, "add recipient with arguments")
            let result = withMutableCString(address) { a in
                withMutableCString(arguments.joined(separator: " ")) { smfi_addrcpt_par(ctx, a, $0) }
            }
            try Self.check(result, "smfi_addrcpt_par")
        }
    }

    /// Deletes a recipient, given exactly as it appeared in `RCPT TO`.
    public func deleteRecipient(_ address: String) throws(MilterError) {
        let ctx = try check(.deleteRecipients, "delete recipient")
        let result = withMutableCString(address) { smfi_delrcpt(ctx, $0) }
        try Self.check(result, "smfi_delrcpt")
    }

    /// Changes the envelope sender.
    public func changeSender(_ address: String, arguments: [String] = []) throws(MilterError) {
        let ctx = try check(.changeSender, "change sender")
        let result = withMutableCString(address) { a in
            withOptionalMutableCString(arguments.isEmpty ? nil : arguments.joined(separator: " ")) { smfi_chgfrom(ctx, a, $0) }
        }
        try Self.check(result, "smfi_chgfrom")
    }

    /// Puts the message in the MTA's hold queue with a reason.
    public func quarantine(reason: String) throws(MilterError) {
        let ctx = try check(.quarantine, "quarantine")
        guard !reason.isEmpty, !reason.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
            throw MilterError(code: .invalidArgument, message: "quarantine reason must be one non-empty line")
        }
        let result = withMutableCString(reason) { smfi_quarantine(ctx, $0) }
        try Self.check(result, "smfi_quarantine")
    }

    /// Tells the MTA the filter is still working, resetting its timeout.
    public func progress() throws(MilterError) {
        guard let ctx = context else {
            throw MilterError(code: .actionOutsideEndOfMessage, message: "progress outside end of message")
        }
        try Self.check(smfi_progress(ctx), "smfi_progress")
    }

    // MARK: checks

    private func check(_ action: MilterActions, _ what: String) throws(MilterError) -> OpaquePointer {
        guard let ctx = context else {
            throw MilterError(code: .actionOutsideEndOfMessage, message: "\(what) outside end of message")
        }
        guard granted.contains(action) else {
            throw MilterError(code: .actionNotNegotiated, message: "\(what): action not negotiated with the MTA")
        }
        return ctx
    }

    /// With raw header values negotiated the MTA writes values verbatim, so
    /// the separating space is ours to add.
    private func wireValue(_ value: [UInt8]) -> [UInt8] {
        Self.wireValue(value, rawHeaderValues: rawHeaderValues)
    }

    static func wireValue(_ value: [UInt8], rawHeaderValues: Bool) -> [UInt8] {
        guard rawHeaderValues, let first = value.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t") else { return value }
        return [UInt8(ascii: " ")] + value
    }

    static func check(_ result: Int32, _ call: String) throws(MilterError) {
        if result != MI_SUCCESS {
            throw MilterError(code: .libmilterFailure, message: "\(call) failed")
        }
    }

    static func validate(name: String, value: String) throws(MilterError) {
        try validate(name: name, value: Array(value.utf8))
    }

    /// A name of printable ASCII without colon; a value without NUL (it is
    /// passed as a C string). Any other byte of a value is the caller's.
    static func validate(name: String, value: [UInt8]) throws(MilterError) {
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
            throw MilterError(code: .invalidArgument, message: "invalid header name '\(name)'")
        }
        guard !value.contains(0) else {
            throw MilterError(code: .invalidArgument, message: "header value for \(name) contains NUL")
        }
    }

    static func validate(occurrence: Int) throws(MilterError) {
        guard occurrence >= 1, occurrence <= Int(Int32.max) else {
            throw MilterError(code: .invalidArgument, message: "header occurrence must be 1 or more, not \(occurrence)")
        }
    }
}
