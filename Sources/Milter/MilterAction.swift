internal import CMilter

/// The end-of-message actions a handler may need the MTA to allow
/// (the `SMFIF_*` flags negotiated at connection start).
public struct MilterActions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    /// Add and insert header fields.
    public static let addHeaders = MilterActions(rawValue: UInt(SMFIF_ADDHDRS))
    /// Change and delete header fields.
    public static let changeHeaders = MilterActions(rawValue: UInt(SMFIF_CHGHDRS))
    /// Replace the body.
    public static let replaceBody = MilterActions(rawValue: UInt(SMFIF_CHGBODY))
    /// Add recipients.
    public static let addRecipients = MilterActions(rawValue: UInt(SMFIF_ADDRCPT))
    /// Add recipients with ESMTP arguments.
    public static let addRecipientsWithArguments = MilterActions(rawValue: UInt(SMFIF_ADDRCPT_PAR))
    /// Delete recipients.
    public static let deleteRecipients = MilterActions(rawValue: UInt(SMFIF_DELRCPT))
    /// Quarantine the message (the MTA keeps it on hold).
    public static let quarantine = MilterActions(rawValue: UInt(SMFIF_QUARANTINE))
    /// Change the envelope sender.
    public static let changeSender = MilterActions(rawValue: UInt(SMFIF_CHGFROM))

    /// Names of the actions in this set, for error messages.
    public var names: [String] {
        let all: [(MilterActions, String)] = [
            (.addHeaders, "add-headers"), (.changeHeaders, "change-headers"),
            (.replaceBody, "replace-body"), (.addRecipients, "add-recipients"),
            (.addRecipientsWithArguments, "add-recipients-with-arguments"),
            (.deleteRecipients, "delete-recipients"), (.quarantine, "quarantine"),
            (.changeSender, "change-sender"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}
