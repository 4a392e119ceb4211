internal import CMilter

/// The libmilter implementation of ``MilterMessageActions``, bound to the
/// MTA connection's `SMFICTX` for one end of message. Each call checks
/// ``MilterActionRules`` and throws ``MilterError`` when libmilter refuses it.
final class LibMilterMessageActions: MilterMessageActions {
    private var context: OpaquePointer?
    private let granted: MilterActions
    private let rawHeaderValues: Bool
    private(set) var hasSentChanges = false

    init(context: OpaquePointer, granted: MilterActions, rawHeaderValues: Bool) {
        self.context = context
        self.granted = granted
        self.rawHeaderValues = rawHeaderValues
    }

    /// Called by the bridge when end of message returns.
    func invalidate() { context = nil }

    func addHeader(name: String, value: [UInt8]) throws(MilterError) {
        try MilterActionRules.validate(name: name, value: value)
        let ctx = try admitChange(.addHeaders, "add header")
        let result = withMutableCString(name) { n in
            withMutableCString(bytes: wireValue(value)) { v in smfi_addheader(ctx, n, v) }
        }
        try Self.check(result, "smfi_addheader(\(name))")
    }

    func insertHeader(at index: Int, name: String, value: [UInt8]) throws(MilterError) {
        try MilterActionRules.validate(name: name, value: value)
        try MilterActionRules.validate(index: index)
        let ctx = try admitChange(.addHeaders, "insert header")
        let result = withMutableCString(name) { n in
            withMutableCString(bytes: wireValue(value)) { v in smfi_insheader(ctx, Int32(index), n, v) }
        }
        try Self.check(result, "smfi_insheader(\(name))")
    }

    func changeHeader(name: String, occurrence: Int, value: [UInt8]) throws(MilterError) {
        try MilterActionRules.validate(name: name, value: value)
        try MilterActionRules.validate(occurrence: occurrence)
        let ctx = try admitChange(.changeHeaders, "change header")
        let result = withMutableCString(name) { n in
            withMutableCString(bytes: wireValue(value)) { v in smfi_chgheader(ctx, n, Int32(occurrence), v) }
        }
        try Self.check(result, "smfi_chgheader(\(name))")
    }

    func deleteHeader(name: String, occurrence: Int) throws(MilterError) {
        try MilterActionRules.validate(name: name, value: "")
        try MilterActionRules.validate(occurrence: occurrence)
        let ctx = try admitChange(.changeHeaders, "delete header")
        let result = withMutableCString(name) { n in smfi_chgheader(ctx, n, Int32(occurrence), nil) }
        try Self.check(result, "smfi_chgheader(\(name), delete)")
    }

    func replaceBody(_ writer: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let ctx = try check(.replaceBody, "replace body")
        let wroteAnything = try MilterActionRules.replaceBody(writer, willSend: { hasSentChanges = true }) { piece in
            guard let base = piece.baseAddress else { return }
            let result = smfi_replacebody(ctx, UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self)), Int32(piece.count))
            try Self.check(result, "smfi_replacebody")
        }
        if !wroteAnything {
            // An empty replacement still has to reach the MTA, or the old body
            // stays: libmilter sends one zero-length SMFIR_REPLBODY, which
            // Postfix and Sendmail take as "the body is now empty".
            var none: UInt8 = 0
            try Self.check(smfi_replacebody(ctx, &none, 0), "smfi_replacebody")
        }
    }

    func addRecipient(_ address: String, arguments: [String]) throws(MilterError) {
        let (action, what) = MilterActionRules.addRecipientAction(arguments: arguments)
        let ctx = try admitChange(action, what)
        if arguments.isEmpty {
            let result = withMutableCString(address) { smfi_addrcpt(ctx, $0) }
            try Self.check(result, "smfi_addrcpt")
        } else {
            let result = withMutableCString(address) { a in
                withMutableCString(arguments.joined(separator: " ")) { smfi_addrcpt_par(ctx, a, $0) }
            }
            try Self.check(result, "smfi_addrcpt_par")
        }
    }

    func deleteRecipient(_ address: String) throws(MilterError) {
        let ctx = try admitChange(.deleteRecipients, "delete recipient")
        let result = withMutableCString(address) { smfi_delrcpt(ctx, $0) }
        try Self.check(result, "smfi_delrcpt")
    }

    func changeSender(_ address: String, arguments: [String]) throws(MilterError) {
        let ctx = try admitChange(.changeSender, "change sender")
        let result = withMutableCString(address) { a in
            withOptionalMutableCString(arguments.isEmpty ? nil : arguments.joined(separator: " ")) { smfi_chgfrom(ctx, a, $0) }
        }
        try Self.check(result, "smfi_chgfrom")
    }

    func quarantine(reason: String) throws(MilterError) {
        let ctx = try check(.quarantine, "quarantine")
        try MilterActionRules.validate(quarantineReason: reason)
        let result = withMutableCString(reason) { smfi_quarantine(ctx, $0) }
        try Self.check(result, "smfi_quarantine")
    }

    func progress() throws(MilterError) {
        let ctx = try check(nil, "progress")
        try Self.check(smfi_progress(ctx), "smfi_progress")
    }

    // MARK: checks

    private func check(_ action: MilterActions?, _ what: String) throws(MilterError) -> OpaquePointer {
        try MilterActionRules.check(action, granted: granted, isOpen: context != nil, what)
        guard let ctx = context else {
            throw MilterError(code: .actionOutsideEndOfMessage, message: "\(what) outside end of message")
        }
        return ctx
    }

    /// ``check(_:_:)`` for a change to the message: from here on it counts
    /// as sent (``MilterActionRules/admitChange(_:granted:isOpen:_:sentChanges:)``).
    private func admitChange(_ action: MilterActions, _ what: String) throws(MilterError) -> OpaquePointer {
        try MilterActionRules.admitChange(action, granted: granted, isOpen: context != nil, what, sentChanges: &hasSentChanges)
        return try check(action, what)
    }

    private func wireValue(_ value: [UInt8]) -> [UInt8] {
        MilterActionRules.wireValue(value, rawHeaderValues: rawHeaderValues)
    }

    static func check(_ result: Int32, _ call: String) throws(MilterError) {
        if result != MI_SUCCESS {
            throw MilterError(code: .libmilterFailure, message: "\(call) failed")
        }
    }
}
