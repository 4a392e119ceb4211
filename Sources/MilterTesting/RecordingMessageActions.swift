import Milter

/// One call a handler made on its ``MilterMessageActions`` at end of message.
public enum RecordedAction: Sendable, Hashable, CustomStringConvertible {
    case addHeader(name: String, value: [UInt8])
    case insertHeader(index: Int, name: String, value: [UInt8])
    case changeHeader(name: String, occurrence: Int, value: [UInt8])
    case deleteHeader(name: String, occurrence: Int)
    /// One `replaceBody` call with every byte it wrote; `chunks` is the
    /// largest piece the MTA would have received in one `smfi_replacebody`.
    case replaceBody([UInt8], largestChunk: Int)
    case addRecipient(String, arguments: [String])
    case deleteRecipient(String)
    case changeSender(String, arguments: [String])
    case quarantine(reason: String)
    case progress

    public var description: String {
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self).debugDescription }
        switch self {
        case .addHeader(let name, let value): return "addHeader(\(name): \(text(value)))"
        case .insertHeader(let index, let name, let value): return "insertHeader(\(index), \(name): \(text(value)))"
        case .changeHeader(let name, let occurrence, let value): return "changeHeader(\(name)[\(occurrence)]: \(text(value)))"
        case .deleteHeader(let name, let occurrence): return "deleteHeader(\(name)[\(occurrence)])"
        case .replaceBody(let bytes, _): return "replaceBody(\(bytes.count) bytes)"
        case .addRecipient(let address, let arguments): return "addRecipient(\(address) \(arguments))"
        case .deleteRecipient(let address): return "deleteRecipient(\(address))"
        case .changeSender(let address, let arguments): return "changeSender(\(address) \(arguments))"
        case .quarantine(let reason): return "quarantine(\(reason))"
        case .progress: return "progress"
        }
    }
}

/// TEST DOUBLE of the MTA side of end of message: a ``MilterMessageActions``
/// that records every call in order instead of sending it to libmilter,
/// after the same ``MilterActionRules`` checks the libmilter implementation
/// makes (negotiated, inside end of message, valid names, values,
/// occurrences, indexes and reasons) — so what it accepts, libmilter
/// accepts. ``apply(to:)`` then gives the message as the MTA would have it.
public final class RecordingMessageActions: MilterMessageActions {
    /// The actions the MTA granted.
    public let granted: MilterActions
    /// Whether header values were negotiated raw (`SMFIP_HDR_LEADSPC`): the
    /// MTA then writes values verbatim and the separating space is the milter's.
    public let rawHeaderValues: Bool
    /// Every successful call, in order.
    public private(set) var recorded: [RecordedAction] = []
    /// False once end of message returned: any later call throws, as with libmilter.
    public private(set) var isOpen = true
    /// Set as libmilter's implementation sets it: when a change is about
    /// to be sent, so also by a change that then fails.
    public private(set) var hasSentChanges = false

    public init(granted: MilterActions, rawHeaderValues: Bool) {
        self.granted = granted
        self.rawHeaderValues = rawHeaderValues
    }

    /// Ends end of message (the harness calls it when the handler returns).
    public func close() { isOpen = false }

    public func addHeader(name: String, value: [UInt8]) throws(MilterError) {
        try MilterActionRules.validate(name: name, value: value)
        try MilterActionRules.admitChange(.addHeaders, granted: granted, isOpen: isOpen, "add header", sentChanges: &hasSentChanges)
        recorded.append(.addHeader(name: name, value: value))
    }

    public func insertHeader(at index: Int, name: String, value: [UInt8]) throws(MilterError) {
        try MilterActionRules.validate(name: name, value: value)
        try MilterActionRules.validate(index: index)
        try MilterActionRules.admitChange(.addHeaders, granted: granted, isOpen: isOpen, "insert header", sentChanges: &hasSentChanges)
        recorded.append(.insertHeader(index: index, name: name, value: value))
    }

    public func changeHeader(name: String, occurrence: Int, value: [UInt8]) throws(MilterError) {
        try MilterActionRules.validate(name: name, value: value)
        try MilterActionRules.validate(occurrence: occurrence)
        try MilterActionRules.admitChange(.changeHeaders, granted: granted, isOpen: isOpen, "change header", sentChanges: &hasSentChanges)
        recorded.append(.changeHeader(name: name, occurrence: occurrence, value: value))
    }

    public func deleteHeader(name: String, occurrence: Int) throws(MilterError) {
        try MilterActionRules.validate(name: name, value: "")
        try MilterActionRules.validate(occurrence: occurrence)
        try MilterActionRules.admitChange(.changeHeaders, granted: granted, isOpen: isOpen, "delete header", sentChanges: &hasSentChanges)
        recorded.append(.deleteHeader(name: name, occurrence: occurrence))
    }

    /// FAILURE INJECTION: ``replaceBody(_:)`` fails once this many bytes of
    /// the new body have reached the MTA, as when the writer's source breaks
    /// half-way (a spool file that cannot be read) or `smfi_replacebody`
    /// returns `MI_FAILURE`; what was written before stays recorded.
    public var failsBodyReplacementAfter: Int?

    public func replaceBody(_ writer: (_ write: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try MilterActionRules.check(.replaceBody, granted: granted, isOpen: isOpen, "replace body")
        var bytes: [UInt8] = []
        var largest = 0
        var finished = false
        // What was written reaches the MTA even when the writer then fails
        // (the failure policy then decides the message's fate); a writer
        // that fails before its first byte sends nothing, as with libmilter.
        defer { if finished || !bytes.isEmpty { recorded.append(.replaceBody(bytes, largestChunk: largest)) } }
        let failAfter = failsBodyReplacementAfter
        _ = try MilterActionRules.replaceBody(writer, willSend: { hasSentChanges = true }) { piece in
            if let failAfter, bytes.count + piece.count > failAfter {
                let taken = max(0, failAfter - bytes.count)
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: piece[..<taken]))
                largest = max(largest, taken)
                throw MilterError(code: .libmilterFailure, message: "smfi_replacebody failed after \(bytes.count) bytes (injected)")
            }
            bytes.append(contentsOf: piece)
            largest = max(largest, piece.count)
        }
        finished = true
    }

    public func addRecipient(_ address: String, arguments: [String]) throws(MilterError) {
        let (action, what) = MilterActionRules.addRecipientAction(arguments: arguments)
        try MilterActionRules.admitChange(action, granted: granted, isOpen: isOpen, what, sentChanges: &hasSentChanges)
        recorded.append(.addRecipient(address, arguments: arguments))
    }

    /// FAILURE INJECTION: ``deleteRecipient(_:)`` fails as libmilter's
    /// `smfi_delrcpt` would (`MI_FAILURE`), recording nothing.
    public var failsRecipientDeletion = false

    public func deleteRecipient(_ address: String) throws(MilterError) {
        try MilterActionRules.admitChange(.deleteRecipients, granted: granted, isOpen: isOpen, "delete recipient", sentChanges: &hasSentChanges)
        if failsRecipientDeletion {
            throw MilterError(code: .libmilterFailure, message: "smfi_delrcpt failed (injected)")
        }
        recorded.append(.deleteRecipient(address))
    }

    public func changeSender(_ address: String, arguments: [String]) throws(MilterError) {
        try MilterActionRules.admitChange(.changeSender, granted: granted, isOpen: isOpen, "change sender", sentChanges: &hasSentChanges)
        recorded.append(.changeSender(address, arguments: arguments))
    }

    public func quarantine(reason: String) throws(MilterError) {
        try MilterActionRules.check(.quarantine, granted: granted, isOpen: isOpen, "quarantine")
        try MilterActionRules.validate(quarantineReason: reason)
        recorded.append(.quarantine(reason: reason))
    }

    public func progress() throws(MilterError) {
        try MilterActionRules.check(nil, granted: granted, isOpen: isOpen, "progress")
        recorded.append(.progress)
    }

    /// The message as the MTA has it after these actions: see
    /// ``MilterMessage/applying(_:rawHeaderValues:)``.
    public func apply(to message: MilterMessage) -> MilterMessage {
        message.applying(recorded, rawHeaderValues: rawHeaderValues)
    }
}
