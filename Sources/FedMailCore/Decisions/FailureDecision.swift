/// A failure action with the replies it gives: what the milter answers
/// when something stops a message (DESIGN.md "Failure actions"). Every
/// reply text FedMail sends is made here, so one catalogue holds them all.
public struct FailureDecision: Sendable, Hashable {
    /// The configured action (`On-*`).
    public var action: MilterConfiguration.FailureAction
    /// The reply when the action is `reject`.
    public var reject: DecisionReply
    /// The reply when the action is `tempfail`.
    public var tempfail: DecisionReply
    /// Why, for the quarantine reason and the log.
    public var reason: String

    public init(action: MilterConfiguration.FailureAction, reject: DecisionReply, tempfail: DecisionReply, reason: String) {
        self.action = action
        self.reject = reject
        self.tempfail = tempfail
        self.reason = reason
    }

    /// This decision for a failure that came after a change of the message
    /// was sent to the MTA (a header field added or removed, part of a new
    /// body): the MTA keeps the changes it received when the answer is
    /// accept, and holds them with the message when it is quarantine, so
    /// both become tempfail — the MTA then drops the changes and the
    /// sender's retry starts afresh. Tempfail and reject stand.
    public func afterPartialChange() -> FailureDecision {
        guard action == .accept || action == .quarantine else { return self }
        var decision = self
        decision.action = .tempfail
        decision.reason = "\(reason) (after part of the message was changed)"
        return decision
    }

    /// A sealed message failed an opening check (`On-BadSeal`, `On-NotForUs`):
    /// `550 5.7.1 FedMail: <check>`.
    public static func badSeal(check: String, action: MilterConfiguration.FailureAction) -> FailureDecision {
        let text = "FedMail: \(check)"
        return FailureDecision(action: action, reject: .init(code: "550", enhancedCode: "5.7.1", text: text),
                               tempfail: .init(code: "451", enhancedCode: "4.7.1", text: text), reason: text)
    }

    /// A sealed message whose broker-issued signer cannot be checked
    /// against a current CRL (`revocation-unknown`): always a temporary
    /// failure, `451 4.7.0 FedMail: revocation-unknown`, so the sender's
    /// MTA retries once the gateway has a fresh CRL; never passed unchecked.
    public static func revocationUnknown(check: String) -> FailureDecision {
        let text = "FedMail: \(check)"
        return FailureDecision(action: .tempfail, reject: .init(code: "550", enhancedCode: "5.7.0", text: text),
                               tempfail: .init(code: "451", enhancedCode: "4.7.0", text: text), reason: text)
    }

    /// A local failure while opening (`On-InternalError`).
    public static func openingInternalError(check: String, action: MilterConfiguration.FailureAction) -> FailureDecision {
        let text = "FedMail: internal error opening the message"
        return FailureDecision(action: action, reject: .init(code: "550", enhancedCode: "5.3.0", text: text),
                               tempfail: .init(code: "451", enhancedCode: "4.3.0", text: text), reason: "FedMail: \(check)")
    }

    /// Any other local failure (`On-InternalError`).
    public static func internalError(action: MilterConfiguration.FailureAction) -> FailureDecision {
        FailureDecision(action: action, reject: .init(code: "550", enhancedCode: "5.3.0", text: "FedMail: internal error"),
                        tempfail: .init(code: "451", enhancedCode: "4.3.0", text: "FedMail: internal error"),
                        reason: "FedMail internal error")
    }

    /// Mail not opened whose From names a `require` partner (`On-SpoofedPartner`).
    public static func spoofedPartner(_ partner: DomainName, action: MilterConfiguration.FailureAction) -> FailureDecision {
        let text = "FedMail: \(partner) requires sealed mail"
        return FailureDecision(action: action, reject: .init(code: "550", enhancedCode: "5.7.1", text: text),
                               tempfail: .init(code: "451", enhancedCode: "4.7.1", text: text),
                               reason: "FedMail: plaintext from require partner \(partner)")
    }

    /// No token could be had (the planner's tempfail for `require`, or
    /// `On-BrokerUnavailable`): `451 4.7.0` / `550 5.7.0 FedMail: <reason>`.
    public static func noToken(_ reason: String, action: MilterConfiguration.FailureAction) -> FailureDecision {
        let text = "FedMail: \(reason)"
        return FailureDecision(action: action, reject: .init(code: "550", enhancedCode: "5.7.0", text: text),
                               tempfail: .init(code: "451", enhancedCode: "4.7.0", text: text), reason: text)
    }

    /// Outbound authors that are not ours (`On-ForeignFrom`).
    public static func foreignFrom(_ reason: String, action: MilterConfiguration.FailureAction) -> FailureDecision {
        let text = "FedMail: foreign-from: \(reason); a sealed message may only come from our domains"
        return FailureDecision(action: action, reject: .init(code: "550", enhancedCode: "5.7.1", text: text),
                               tempfail: .init(code: "451", enhancedCode: "4.7.0", text: text),
                               reason: "FedMail: foreign-from: \(reason)")
    }

    /// An original FedMail will not seal for any recipient (its header
    /// section does not end within the limit, holds a byte that readers
    /// take apart differently, or copies more outside than an opener
    /// reads): always reject, `550 5.6.0 FedMail: cannot seal this
    /// message: its header section is malformed or too large`; `reason`
    /// (which names the sender's own field) goes to the log only. Sending
    /// it again gives the same answer, and sending it unsealed to a partner
    /// that requires sealed mail is not an option.
    public static func unsealable(_ reason: String) -> FailureDecision {
        let text = "FedMail: cannot seal this message: its header section is malformed or too large"
        return FailureDecision(action: .reject, reject: .init(code: "550", enhancedCode: "5.6.0", text: text),
                               tempfail: .init(code: "451", enhancedCode: "4.6.0", text: text),
                               reason: "FedMail: cannot seal this message: \(reason)")
    }

    /// A scan verdict that stops the message (`On-Infected`, `On-ScanError`).
    public static func scan(action: MilterConfiguration.FailureAction, reject: DecisionReply, tempfail: DecisionReply,
                            reason: String) -> FailureDecision {
        FailureDecision(action: action, reject: reject, tempfail: tempfail, reason: "FedMail: \(reason)")
    }

    /// The reply the action gives (`nil` for accept and quarantine).
    public var reply: DecisionReply? {
        switch action {
        case .reject: return reject
        case .tempfail: return tempfail
        case .accept, .quarantine: return nil
        }
    }
}

/// Replies that are not a configurable action.
extension DecisionReply {
    /// A recipient whose domain cannot be told (``RecipientDomain/unreadable``):
    /// where the MTA would route it is unknown, so it is neither sealed for
    /// nor delivered as plaintext.
    public static let recipientUnreadable = DecisionReply(
        code: "550", enhancedCode: "5.1.3", text: "FedMail: cannot tell the domain of a recipient address")
    /// `MixedRecipients reject`.
    public static let mixedRecipientsRefused = DecisionReply(
        code: "550", enhancedCode: "5.7.0", text: "FedMail: sealed and plaintext recipients must be sent separately")
    /// Mixed recipients to split, but no `Reinject`.
    public static let noReinjectService = DecisionReply(
        code: "451", enhancedCode: "4.3.5", text: "FedMail: mixed recipients but no Reinject service configured")
    /// The sealed copy could not be re-injected: the whole message waits.
    public static let reinjectionFailed = DecisionReply(
        code: "451", enhancedCode: "4.3.0", text: "FedMail: re-injection of the sealed copy failed")
    /// The same message is being split by another transaction right now
    /// (its sealed copy not yet queued): this one waits rather than risk a
    /// second copy.
    public static let splitInProgress = DecisionReply(
        code: "451", enhancedCode: "4.3.0", text: "FedMail: the same message is being split by another transaction, try again")
    /// `MixedRecipients defer`: a recipient of the other class, at RCPT.
    public static let otherRecipientClass = DecisionReply(
        code: "452", enhancedCode: "4.5.3", text: "FedMail: recipients of another federation class must be sent separately")
}
