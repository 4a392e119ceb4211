import FedMailCore
import FedMailCrypto
import Foundation
import Logging
import Milter

/// The mail behavior of `fedmail-milter` (DESIGN.md "Milter behavior"):
/// outbound mail to federated partners is sealed at end of message, sealed
/// mail for our `Domains` is opened and verified, everything else passes
/// untouched. One handler per MTA connection; it uses the federation state
/// in force when the connection started. Every error path ends in the
/// configured action, never in a lost message.
public final class FederationHandler: MilterHandler {
    /// The header added when an opportunistic partner gets plaintext.
    public static let plaintextHeader = "X-FedMail-Plaintext"

    /// How long a split is remembered: as long as a client may keep retrying
    /// a message (Postfix's `maximal_queue_lifetime` default, 5 days) plus a day.
    public static let splitLedgerRetention: TimeInterval = 6 * 86_400
    /// The most (split, recipient) records the split ledger holds; when full
    /// the oldest go first (a retry of an evicted split gets a second copy,
    /// never none).
    public static let splitLedgerCapacity = 200_000

    /// What it needs from the MTA: replace headers and body, delete
    /// recipients (split), quarantine; envelope, headers (raw values) and body;
    /// the queue id and the macros that decide direction.
    public static let requirements = MilterRequirements(
        actions: [.addHeaders, .changeHeaders, .replaceBody, .deleteRecipients, .quarantine],
        stages: [.connect, .helo, .envelopeSender, .envelopeRecipient, .endOfHeaders],
        macros: [
            .connect: ["j", "{daemon_name}", "{client_addr}"],
            .envelopeSender: ["i", "{auth_type}", "{auth_authen}"],
            .endOfMessage: ["i"],
        ],
        rawHeaderValues: true,
        // connect(session:) and envelopeSender(_:arguments:session:) always
        // continue, helo(_:session:) and header(_:session:) are never
        // implemented (every field is answered at end of headers), so the
        // MTA need not wait for them. RCPT TO is answered: a recipient may
        // be deferred there.
        unansweredStages: [.connect, .helo, .envelopeSender, .header],
        collectsHeaders: true,
        collectsBody: true)

    let runtime: FederationRuntime
    /// Where the work files of the current message go: ``memorySpoolDirectory``
    /// when its body stayed in memory (under BodySpoolThreshold) and there is
    /// one, else ``diskSpoolDirectory``. Set at end of message.
    private(set) var spoolDirectory: String
    /// The private spool directory under TemporaryDirectory.
    let diskSpoolDirectory: String
    /// A private directory on tmpfs (nil: none), for messages that stayed in
    /// memory: their work files then never touch the disk.
    let memorySpoolDirectory: String?
    let logger: Logger
    /// Which seals were delivered to which recipients (shared by every
    /// connection, kept across reloads).
    let replayCache: ReplayCache
    /// Which split messages' sealed copies were re-injected for which
    /// recipients (``SplitID``; shared by every connection, kept across reloads).
    let splitLedger: ReplayCache
    /// Sealed copies whose re-injection ended in doubt, re-sent as they are
    /// on the retry (nil: not kept; a retry seals again).
    let splitInDoubt: InDoubtSealedCopies?
    /// The broker's CRL (shared, kept across reloads); nil: not checked
    /// (tests without a broker).
    let revocations: RevocationListCache?
    /// The daemon's metrics (nil: not counted).
    let metrics: MilterMetrics?
    private var classGate = RecipientClassGate()
    /// The opened message's seal and recipients, recorded in the replay
    /// cache at the connection's next step (its answer has reached the MTA by then).
    var openedDelivery: (sealID: [UInt8], recipients: [String], log: MessageLog)?

    var settings: MilterFederationSettings { runtime.settings }

    /// The outbound decisions (pure) with this connection's settings.
    var outboundPlanner: OutboundPlanner {
        OutboundPlanner(allowlist: runtime.allowlist, localDomains: Set(settings.domains),
                        onBrokerUnavailable: settings.onBrokerUnavailable)
    }

    /// Creates the handler for one connection.
    ///
    /// `splitLedger` defaults to an in-memory ledger (tests); the daemon
    /// passes the one in `StateDirectory`.
    public init(runtime: FederationRuntime, spoolDirectory: String, replayCache: ReplayCache, logger: Logger,
                revocations: RevocationListCache? = nil,
                splitLedger: ReplayCache = ReplayCache(maxAge: FederationHandler.splitLedgerRetention,
                                                       maxEntries: FederationHandler.splitLedgerCapacity, recipientDelimiters: ""),
                splitInDoubt: InDoubtSealedCopies? = nil,
                memorySpoolDirectory: String? = nil, metrics: MilterMetrics? = nil) {
        self.runtime = runtime
        self.spoolDirectory = spoolDirectory
        self.diskSpoolDirectory = spoolDirectory
        self.memorySpoolDirectory = memorySpoolDirectory
        self.replayCache = replayCache
        self.splitLedger = splitLedger
        self.splitInDoubt = splitInDoubt
        self.logger = logger
        self.revocations = revocations
        self.metrics = metrics
    }

    // MARK: callbacks

    public func connect(session: MilterSession) throws -> MilterResponse {
        logger.debug("""
            connect from \(session.client?.hostname ?? "unknown") [\(session.client?.address ?? "local")] \
            mta=\(session.macro("j") ?? "-") daemon=\(session.macro("{daemon_name}") ?? "-") \
            client_addr=\(session.macro("{client_addr}") ?? "-")
            """, metadata: ["queue-id": "NOQUEUE"])
        return .continue
    }

    public func envelopeSender(_ sender: String, arguments: [String], session: MilterSession) throws -> MilterResponse {
        recordOpenedDelivery()
        classGate = RecipientClassGate()
        return .continue
    }

    public func close(session: MilterSession) {
        recordOpenedDelivery()
    }

    /// Commits the replay record of the message opened last on this
    /// connection, whose answer the MTA now has.
    func recordOpenedDelivery() {
        guard let delivery = openedDelivery else { return }
        openedDelivery = nil
        do { try replayCache.commit(sealID: delivery.sealID, recipients: delivery.recipients) } catch {
            delivery.log.error("replay cache: \(error)")
        }
    }

    /// `MixedRecipients defer`: a recipient of another class than the first
    /// is answered 452 4.5.3 (outbound mail only).
    public func envelopeRecipient(_ recipient: MilterRecipient, session: MilterSession) throws -> MilterResponse {
        guard settings.mixedRecipients == .defer, settings.mode.seals,
              settings.directionPolicy.isTrustedClient(directionFacts(session: session, recipients: [])) else { return .continue }
        let recipientClass = outboundPlanner.recipientClass(PlannedRecipient(address: recipient.address))
        if classGate.admits(recipientClass) { return .continue }
        logger.info("deferred recipient \(recipient.address): \(recipientClass.rawValue), the message is \(classGate.firstClass?.rawValue ?? "-")",
                    metadata: ["queue-id": "\(session.queueID ?? "NOQUEUE")"])
        return .tempfail(with: try Self.smtpReply(.otherRecipientClass))
    }

    public func endOfMessage(session: MilterSession, actions: any MilterMessageActions) throws -> MilterResponse {
        guard let transaction = session.transaction else { return .continue }
        let outcome = MessageOutcomeRecorder()
        let started = ContinuousClock.now
        defer { countMessage(outcome, startedAt: started) }
        let log = MessageLog(logger: logger, queueID: session.queueID ?? "NOQUEUE", transaction: transaction, outcome: outcome)
        spoolDirectory = transaction.body.isSpooled ? diskSpoolDirectory : memorySpoolDirectory ?? diskSpoolDirectory
        do {
            return try process(session: session, transaction: transaction, actions: actions, log: log)
        } catch {
            var decision = FailureDecision.internalError(action: runtime.configuration.onInternalError)
            if actions.hasSentChanges {
                decision = decision.afterPartialChange()
                log.error("internal error after part of the message was changed (decision=\(decision.action.rawValue)): \(error)")
            } else {
                log.error("internal error: \(error)")
            }
            outcome.note(.internalError(direction: outcome.current?.direction, action: decision.action.rawValue))
            return respond(decision, actions: actions, log: log)
        }
    }

    public func abort(session: MilterSession) {
        recordOpenedDelivery()
        logger.debug("message aborted by the MTA", metadata: ["queue-id": "\(session.queueID ?? "NOQUEUE")"])
    }

    public func failed(_ error: any Error, stage: MilterStage, session: MilterSession) -> MilterResponse {
        let action = runtime.configuration.onInternalError
        logger.error("internal error at \(stage): \(error); answering \(action.rawValue)",
                     metadata: ["queue-id": "\(session.queueID ?? "NOQUEUE")"])
        switch action {
        case .accept: return .continue
        case .reject: return .reject
        case .tempfail, .quarantine: return .tempfail
        }
    }

    // MARK: dispatch

    func directionFacts(session: MilterSession, recipients: [MilterRecipient]) -> DirectionFacts {
        DirectionFacts(authType: session.macro("{auth_type}"),
                       clientAddress: session.client?.address ?? session.macro("{client_addr}"),
                       daemonName: session.macro("{daemon_name}"),
                       recipients: recipients.map(\.address))
    }

    func process(session: MilterSession, transaction: MilterTransaction, actions: any MilterMessageActions,
                 log: MessageLog) throws -> MilterResponse {
        let facts = directionFacts(session: session, recipients: transaction.recipients)
        let policy = settings.directionPolicy
        let direction = policy.direction(of: facts)
        let forUs = policy.isForUs(facts)
        let rawValues = session.negotiation?.rawHeaderValues ?? false

        // A recipient whose domain cannot be told may be routed anywhere,
        // ours or a partner's: nothing is concluded from it.
        if let unreadable = facts.unreadableRecipients.first {
            log.info("direction=\(direction) decision=reject (cannot tell the domain of recipient \(unreadable))")
            return .reject(with: try Self.smtpReply(.recipientUnreadable))
        }

        // A sealed message for one of our domains is opened whichever hop
        // delivered it (a front relay may be an internal host) — when it is
        // ours: S/MIME for somebody's own key passes through untouched.
        if forUs, settings.mode.opens, SealedMessageDetection.mayBeSealed(fields: transaction.headers.map { ($0.name, $0.value) }) {
            switch try ownership(of: transaction, tokens: tokenFields(in: transaction), rawValues: rawValues) {
            case .ours(let split, let ourTokens):
                return try openInbound(transaction: transaction, actions: actions, rawValues: rawValues, split: split,
                                       ourTokens: ourTokens, log: log)
            case .notOurs(let reason):
                log.info("not ours to open: \(reason)")
            }
        }
        switch direction {
        case .outbound where settings.mode.seals:
            if try isAlreadySealed(transaction, rawValues: rawValues) {
                try removeForgedVerdicts(transaction: transaction, actions: actions, log: log)
                log.info("direction=outbound decision=untouched (already sealed)")
                return .continue
            }
            return try sealOutbound(transaction: transaction, actions: actions, rawValues: rawValues,
                                    fromScanningHost: scanning.isUpstreamScanHost(facts.clientAddress), log: log)
        case .inbound where settings.mode.opens:
            return try checkPlaintextInbound(transaction: transaction, actions: actions, log: log)
        default:
            // Whatever the direction and the recipients (a domain the MTA
            // delivers locally need not be listed in Domains), a verdict
            // under our name is ours or it goes.
            try removeForgedVerdicts(transaction: transaction, actions: actions, log: log)
            log.info("direction=\(direction == .other ? "other" : "\(direction)") decision=untouched")
            return .continue
        }
    }

    /// The most header fields looked at for FedMail-Token fields.
    static let maxHeaderFieldsExamined = 10_000

    /// Every FedMail-Token field of the message, parsed (each value bounded
    /// at 16 KiB), among its first ``maxHeaderFieldsExamined`` fields.
    func tokenFields(in transaction: MilterTransaction) -> [FedMailTokenHeader] {
        transaction.headers.prefix(Self.maxHeaderFieldsExamined)
            .filter { $0.hasName(FedMailTokenHeader.fieldName) }
            .compactMap { FedMailTokenHeader.parse(value: $0.value) }
    }

    /// Outbound, "already sealed" means our format for every remote
    /// recipient domain: a body that parses as AuthEnvelopedData under an
    /// authEnveloped-data Content-Type, and for each remote domain a
    /// FedMail-Token naming it or, for a static partner (`cert=`), a
    /// recipientInfo for the pinned certificate's key. Headers alone prove
    /// nothing: anything else is sealed like any message (or waits, for a
    /// `require` partner), never sent on as it is.
    func isAlreadySealed(_ transaction: MilterTransaction, rawValues: Bool) throws -> Bool {
        let fields = transaction.headers.map { ($0.name, $0.value) }
        guard SealedMessageDetection.hasSealedContentType(fields: fields) else { return false }
        let tokenDomains = Set(tokenFields(in: transaction).compactMap { DomainName($0.domain) })
        let remote = transaction.recipients.compactMap { DomainName(ofAddress: $0.address) }
            .filter { !settings.directionPolicy.isLocal($0) }
        let needKeys = remote.filter { !tokenDomains.contains($0) }
        guard !remote.isEmpty, needKeys.allSatisfy({ runtime.partnerCertificate(for: $0) != nil }) else { return false }
        let input = try MessageFiles.messageInput(transaction, rawValues: rawValues)
        let summary: SealedMessageSummary
        do { summary = try Opener.inspect(input, temporaryDirectory: spoolDirectory) } catch {
            if error.code == .internalError { throw error }
            return false
        }
        guard summary.isAEAD, !summary.recipients.isEmpty else { return false }
        let keyIDs = Set(summary.recipients.map(\.keyIdentifier))
        return needKeys.allSatisfy { domain in
            guard let certificate = runtime.partnerCertificate(for: domain) else { return false }
            return keyIDs.contains(certificate.subjectKeyIdentifier ?? certificate.publicKeyIdentifier)
        }
    }

    // MARK: failure actions

    /// Applies a failure action: `reject` and `tempfail` with their
    /// replies, `quarantine` holds the message (unchanged), `accept` passes it.
    func respond(_ decision: FailureDecision, actions: any MilterMessageActions, log: MessageLog) -> MilterResponse {
        switch decision.action {
        case .accept:
            return .continue
        case .reject:
            if let reply = try? Self.smtpReply(decision.reject) { return .reject(with: reply) }
            return .reject
        case .tempfail:
            if let reply = try? Self.smtpReply(decision.tempfail) { return .tempfail(with: reply) }
            return .tempfail
        case .quarantine:
            do {
                try actions.quarantine(reason: decision.reason)
                return .continue
            } catch {
                log.error("quarantine failed (\(error)); tempfailing instead")
                return .tempfail
            }
        }
    }

    /// A decision's reply as the bridge sends it.
    static func smtpReply(_ reply: DecisionReply) throws -> SMTPReply {
        try SMTPReply(code: reply.code, enhancedCode: reply.enhancedCode, lines: [reply.text])
    }
}

/// One log line per message, prefixed with the queue id: what was decided.
struct MessageLog {
    let logger: Logger
    let queueID: String
    let summary: String
    /// Takes note of the decision each line states (for the metrics).
    let outcome: MessageOutcomeRecorder?

    /// - Parameter bodyRead: false when the message was decided before its
    ///   body (accepted at end of headers): the body is then "not-read".
    init(logger: Logger, queueID: String, transaction: MilterTransaction, bodyRead: Bool = true,
         outcome: MessageOutcomeRecorder? = nil) {
        self.logger = logger
        self.outcome = outcome
        self.queueID = queueID
        let body = bodyRead ? "body=\(transaction.body.count) spooled=\(transaction.body.isSpooled ? "yes" : "no")" : "body=not-read"
        summary = """
            from=\(transaction.sender ?? "<>") rcpts=\(transaction.recipients.count) \
            headers=\(transaction.headers.count) \(body)
            """
    }

    func info(_ decision: String) {
        outcome?.note(decision)
        logger.info("\(summary): \(decision)", metadata: ["queue-id": "\(queueID)"])
    }

    func warning(_ decision: String) {
        outcome?.note(decision)
        logger.warning("\(summary): \(decision)", metadata: ["queue-id": "\(queueID)"])
    }

    func error(_ message: String) {
        outcome?.note(message)
        logger.error("\(summary): \(message)", metadata: ["queue-id": "\(queueID)"])
    }
}
