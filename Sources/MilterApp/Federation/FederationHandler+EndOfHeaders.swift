import FedMailCore
import Milter

/// The untouched path decided from the envelope and the header fields
/// alone: a message FedMail will neither seal, open, refuse nor edit is
/// accepted at end of headers, so the MTA sends it no body and no end of
/// message (and the milter spools nothing). Anything that might need the
/// body or a change — possibly sealed mail for us, a federated recipient, a
/// verdict field under our name, plaintext naming a `require` partner — goes
/// on to end of message, where ``process(session:transaction:actions:log:)``
/// decides as always.
extension FederationHandler {
    public func endOfHeaders(session: MilterSession) throws -> MilterResponse {
        guard let transaction = session.transaction,
              let decision = untouchedAtEndOfHeaders(session: session, transaction: transaction) else { return .continue }
        let outcome = MessageOutcomeRecorder()
        MessageLog(logger: logger, queueID: session.queueID ?? "NOQUEUE", transaction: transaction, bodyRead: false,
                   outcome: outcome).info("\(decision) at end of headers")
        countMessage(outcome, startedAt: .now)
        return .accept
    }

    /// The log text of the untouched decision when the message certainly
    /// needs nothing at end of message; nil when it may (the conservative
    /// answer: end of message decides).
    func untouchedAtEndOfHeaders(session: MilterSession, transaction: MilterTransaction) -> String? {
        let facts = directionFacts(session: session, recipients: transaction.recipients)
        let policy = settings.directionPolicy
        let direction = policy.direction(of: facts)
        let forUs = policy.isForUs(facts)
        // A recipient whose domain cannot be told: refused at end of message.
        guard facts.unreadableRecipients.isEmpty else { return nil }
        let fields = transaction.headers.map { ($0.name, $0.value) }
        // Maybe sealed for us: opened (or found not ours) at end of message.
        if forUs, settings.mode.opens, SealedMessageDetection.mayBeSealed(fields: fields) { return nil }
        // A verdict field only we may add is removed at end of message
        // (whoever the recipients are: the conservative reading).
        if transaction.headers.contains(where: { isForgedVerdict(name: $0.name, value: $0.value) }) { return nil }
        switch direction {
        case .outbound where settings.mode.seals:
            let recipients = transaction.recipients.map { PlannedRecipient(address: $0.address) }
            guard outboundPlanner.domainsToLookUp(recipients).isEmpty else { return nil }
            return "direction=outbound decision=untouched (no federated recipient)"
        case .inbound where settings.mode.opens:
            let fromValues = transaction.headers.filter { $0.hasName("From") || $0.hasName("Sender") }.map(\.value)
            guard SpoofedPartnerCheck.requiredPartner(inFieldValues: fromValues, allowlist: runtime.allowlist,
                                                      textForms: .nfkc) == nil else { return nil }
            return "direction=inbound decision=untouched (plaintext)"
        default:
            return "direction=\(direction == .other ? "other" : "\(direction)") decision=untouched"
        }
    }
}
