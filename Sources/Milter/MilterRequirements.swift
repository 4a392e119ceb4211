/// What a handler needs from the MTA: negotiated once per connection.
///
/// The bridge asks only for these actions and steps; steps not listed are
/// switched off when the MTA allows it, and a connection from an MTA that
/// cannot grant every required action is refused.
public struct MilterRequirements: Sendable, Hashable {
    /// Actions the handler may perform at end of message. An MTA that does
    /// not offer all of them is refused at negotiation.
    public var actions: MilterActions
    /// Steps the handler wants to see. End of message, abort and close are
    /// always delivered.
    public var stages: Set<MilterStage>
    /// Macros to request per stage with `smfi_setsymlist`, such as `i`, `j`,
    /// `{auth_type}`, `{daemon_name}`, `{client_addr}`. Names may be written
    /// with or without braces.
    public var macros: [MilterStage: [String]] {
        didSet { allMacroNames = Self.allNames(macros) }
    }
    /// Keep header values exactly as received, including the leading space
    /// after the colon, when the MTA supports it (`SMFIP_HDR_LEADSPC`).
    public var rawHeaderValues: Bool
    /// Whether the handler answers each header field (false: its
    /// ``MilterHandler/header(_:session:)`` never stops a message, so the
    /// MTA is asked not to wait for an answer per field, `SMFIP_NR_HDR`,
    /// when it supports that: one round trip per field less).
    public var answersHeaders: Bool {
        get { !unansweredStages.contains(.header) }
        set { if newValue { unansweredStages.remove(.header) } else { unansweredStages.insert(.header) } }
    }
    /// Steps whose handler callback always answers continue (connect, HELO,
    /// MAIL FROM, header fields): the MTA is asked not to wait for an answer
    /// there (`SMFIP_NR_CONN`, `_HELO`, `_MAIL`, `_HDR`, ...) when it
    /// supports that, one round trip less per step. Should the step still
    /// end in another answer (a failure the bridge answers for, a stop),
    /// that answer is given at the next step the MTA waits for (see
    /// ``MilterNegotiation/noReplyStages``).
    public var unansweredStages: Set<MilterStage>
    /// Keep every header of the message, in order, in the transaction.
    public var collectsHeaders: Bool
    /// Keep the body in the transaction (in memory up to the spool threshold,
    /// then in a private temporary file).
    public var collectsBody: Bool

    public init(actions: MilterActions,
                stages: Set<MilterStage>,
                macros: [MilterStage: [String]] = [:],
                rawHeaderValues: Bool = false,
                answersHeaders: Bool = true,
                unansweredStages: Set<MilterStage> = [],
                collectsHeaders: Bool = false,
                collectsBody: Bool = false) {
        self.actions = actions
        var stages = stages
        if collectsHeaders { stages.insert(.header) }
        if collectsBody { stages.insert(.body) }
        self.stages = stages
        let canonical = macros.mapValues { $0.map(MacroName.canonical) }
        self.macros = canonical
        self.allMacroNames = Self.allNames(canonical)
        self.rawHeaderValues = rawHeaderValues
        self.unansweredStages = unansweredStages
        if !answersHeaders { self.unansweredStages.insert(.header) }
        self.collectsHeaders = collectsHeaders
        self.collectsBody = collectsBody
    }

    /// Every macro name requested at any stage, canonical form, sorted
    /// (kept with ``macros``: the bridge reads it at every step).
    private(set) var allMacroNames: [String]

    private static func allNames(_ macros: [MilterStage: [String]]) -> [String] {
        Array(Set(macros.values.joined().map(MacroName.canonical))).sorted()
    }
}

/// Macro names in the form libmilter uses: single letters bare (`i`, `j`),
/// longer names in braces (`{auth_type}`).
public enum MacroName {
    /// `auth_type` and `{auth_type}` both become `{auth_type}`; `i` stays `i`.
    public static func canonical(_ name: String) -> String {
        // Already canonical (the usual case: every lookup of a step): as it is.
        let utf8 = name.utf8
        if utf8.count == 1 { return name }
        if utf8.count > 3, utf8.first == UInt8(ascii: "{"), utf8.last == UInt8(ascii: "}"),
           utf8.dropFirst().dropLast().allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "{") && $0 != UInt8(ascii: "}") }) {
            return name
        }
        var bare = Substring(name)
        if bare.hasPrefix("{"), bare.hasSuffix("}"), bare.count >= 2 {
            bare = bare.dropFirst().dropLast()
        }
        return bare.count == 1 ? String(bare) : "{\(bare)}"
    }
}
