internal import CMilter

/// The outcome of option negotiation with an MTA: which actions and
/// protocol flags to ask for. Pure: computed from what the MTA offers and
/// what the handler requires, so it is tested without an MTA.
public struct MilterNegotiation: Sendable, Hashable {
    /// Actions requested (`*pf0`).
    public var actions: UInt
    /// Protocol step flags requested (`*pf1`).
    public var protocolFlags: UInt
    /// Whether per-stage macro lists can be requested with `smfi_setsymlist`.
    public var canSetMacroLists: Bool
    /// Whether header values arrive with their leading space.
    public var rawHeaderValues: Bool
    /// Whether the handler may answer ``MilterResponse/skip`` during the body.
    public var canSkip: Bool
    /// The steps at which the MTA does not wait for an answer (`SMFIP_NR_*`,
    /// asked for the handler's ``MilterRequirements/unansweredStages`` that
    /// the MTA offers it for). An answer other than continue at such a step
    /// is given at the next step the MTA waits for.
    public var noReplyStages: Set<MilterStage> = []
    /// Whether the MTA sends header fields without waiting for an answer
    /// (`SMFIP_NR_HDR`, asked for when the handler does not answer them).
    public var headersWithoutReply: Bool {
        get { noReplyStages.contains(.header) }
        set { if newValue { noReplyStages.insert(.header) } else { noReplyStages.remove(.header) } }
    }

    /// Required actions the MTA does not offer, which makes negotiation fail.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        /// The missing actions.
        public var missing: MilterActions
        public var description: String {
            "the MTA does not offer the milter actions " + missing.names.joined(separator: ", ")
        }
    }

    /// Negotiates.
    ///
    /// - Parameters:
    ///   - offeredActions: the MTA's `SMFIF_*` offer (`f0`).
    ///   - offeredProtocol: the MTA's `SMFIP_*` offer (`f1`).
    ///   - requirements: what the handler needs.
    /// - Throws: ``Refusal`` when a required action is not offered.
    public init(offeredActions: UInt, offeredProtocol: UInt, requirements: MilterRequirements) throws(Refusal) {
        let required = requirements.actions.rawValue
        let missing = required & ~offeredActions
        if missing != 0 {
            throw Refusal(missing: MilterActions(rawValue: missing))
        }
        var actions = required
        let wantsMacros = !requirements.macros.values.allSatisfy(\.isEmpty)
        canSetMacroLists = wantsMacros && offeredActions & UInt(SMFIF_SETSYMLIST) != 0
        if canSetMacroLists { actions |= UInt(SMFIF_SETSYMLIST) }
        self.actions = actions

        var flags: UInt = 0
        for stage in MilterStage.allCases where !requirements.stages.contains(stage) {
            if let flag = stage.noStepFlag, offeredProtocol & flag != 0 { flags |= flag }
        }
        if offeredProtocol & UInt(SMFIP_NOUNKNOWN) != 0 { flags |= UInt(SMFIP_NOUNKNOWN) }
        rawHeaderValues = requirements.rawHeaderValues && offeredProtocol & UInt(SMFIP_HDR_LEADSPC) != 0
        if rawHeaderValues { flags |= UInt(SMFIP_HDR_LEADSPC) }
        canSkip = offeredProtocol & UInt(SMFIP_SKIP) != 0
        if canSkip { flags |= UInt(SMFIP_SKIP) }
        for stage in requirements.unansweredStages where requirements.stages.contains(stage) {
            if let flag = stage.noReplyFlag, offeredProtocol & flag != 0 {
                noReplyStages.insert(stage)
                flags |= flag
            }
        }
        protocolFlags = flags
    }
}
