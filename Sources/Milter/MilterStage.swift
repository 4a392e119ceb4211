internal import CMilter

/// A step of the SMTP conversation that the MTA reports to the milter.
public enum MilterStage: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case connect
    case helo
    case envelopeSender
    case envelopeRecipient
    case data
    case header
    case endOfHeaders
    case body
    case endOfMessage
    case abort
    case close

    public var description: String {
        switch self {
        case .connect: return "connect"
        case .helo: return "helo"
        case .envelopeSender: return "mail-from"
        case .envelopeRecipient: return "rcpt-to"
        case .data: return "data"
        case .header: return "header"
        case .endOfHeaders: return "end-of-headers"
        case .body: return "body"
        case .endOfMessage: return "end-of-message"
        case .abort: return "abort"
        case .close: return "close"
        }
    }

    /// The `SMFIP_NO*` flag that asks the MTA not to send this step, if it
    /// can be switched off.
    var noStepFlag: UInt? {
        switch self {
        case .connect: return UInt(SMFIP_NOCONNECT)
        case .helo: return UInt(SMFIP_NOHELO)
        case .envelopeSender: return UInt(SMFIP_NOMAIL)
        case .envelopeRecipient: return UInt(SMFIP_NORCPT)
        case .data: return UInt(SMFIP_NODATA)
        case .header: return UInt(SMFIP_NOHDRS)
        case .endOfHeaders: return UInt(SMFIP_NOEOH)
        case .body: return UInt(SMFIP_NOBODY)
        case .endOfMessage, .abort, .close: return nil
        }
    }

    /// The `SMFIP_NR_*` flag that asks the MTA not to wait for an answer
    /// at this step, if there is one.
    var noReplyFlag: UInt? {
        switch self {
        case .connect: return UInt(SMFIP_NR_CONN)
        case .helo: return UInt(SMFIP_NR_HELO)
        case .envelopeSender: return UInt(SMFIP_NR_MAIL)
        case .envelopeRecipient: return UInt(SMFIP_NR_RCPT)
        case .data: return UInt(SMFIP_NR_DATA)
        case .header: return UInt(SMFIP_NR_HDR)
        case .endOfHeaders: return UInt(SMFIP_NR_EOH)
        case .body: return UInt(SMFIP_NR_BODY)
        case .endOfMessage, .abort, .close: return nil
        }
    }

    /// The `SMFIM_*` macro stage for `smfi_setsymlist`, if macros can be
    /// requested at this step.
    var macroStage: Int32? {
        switch self {
        case .connect: return SMFIM_CONNECT
        case .helo: return SMFIM_HELO
        case .envelopeSender: return SMFIM_ENVFROM
        case .envelopeRecipient: return SMFIM_ENVRCPT
        case .data: return SMFIM_DATA
        case .endOfHeaders: return SMFIM_EOH
        case .endOfMessage: return SMFIM_EOM
        case .header, .body, .abort, .close: return nil
        }
    }
}
