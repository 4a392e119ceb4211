import Milter

/// The SMTP client and MTA side of a milter conversation, for tests.
public struct MilterEnvelope: Sendable, Hashable {
    /// The client at connect (`nil` address: a local connection).
    public var client: MilterClient
    /// The HELO/EHLO name.
    public var helo: String
    /// Macros the MTA has at connect and HELO (`j`, `{daemon_name}`, `{client_addr}`...).
    public var connectMacros: [String: String]
    /// Macros the MTA has from `MAIL FROM` on (`i`, `{auth_type}`...).
    public var messageMacros: [String: String]
    /// ESMTP arguments of `MAIL FROM`.
    public var senderArguments: [String]
    /// ESMTP arguments of each `RCPT TO`, by the address as the message's
    /// recipients spell it (e.g. `<bob@b.example>`: `["NOTIFY=SUCCESS"]`).
    public var recipientArguments: [String: [String]]

    public init(client: MilterClient = MilterClient(hostname: "localhost", address: "127.0.0.1", port: 40_000),
                helo: String = "client.example", connectMacros: [String: String] = [:],
                messageMacros: [String: String] = ["i": "TESTQUEUEID"], senderArguments: [String] = [],
                recipientArguments: [String: [String]] = [:]) {
        self.client = client
        self.helo = helo
        self.connectMacros = connectMacros
        self.messageMacros = messageMacros
        self.senderArguments = senderArguments
        self.recipientArguments = recipientArguments
    }
}

/// What came of one message driven through a handler.
public struct MilterRun: Sendable {
    /// The step whose answer ended the conversation about the message:
    /// ``MilterStage/endOfMessage`` when it got that far.
    public var stage: MilterStage
    /// That answer (a reply only with reject or tempfail, as the bridge sends it).
    public var response: MilterResponse
    /// Each recipient's answer at `RCPT TO`, in order.
    public var recipientResponses: [(recipient: MilterRecipient, response: MilterResponse)]
    /// The end-of-message actions, in order (empty when it did not get there).
    public var actions: [RecordedAction]
    /// The message the handler was given (accepted recipients only).
    public var original: MilterMessage
    /// The message after the actions, as the MTA has it — meaningful when
    /// the MTA goes on with it (``response`` continue or accept).
    public var result: MilterMessage

    /// Whether the MTA goes on with the message: continue or accept
    /// (quarantined messages included — the MTA keeps them on hold).
    public var isDelivered: Bool { response.status == .continue || response.status == .accept }
}

/// TEST DOUBLE of the MTA and libmilter, in the spirit of swift-nio's
/// `EmbeddedChannel`: drives a ``MilterHandler`` through connect, HELO,
/// `MAIL FROM`, each `RCPT TO`, DATA, each header field, end of headers,
/// the body in chunks and end of message — the steps, the order, the
/// session and transaction records, the error and reply rules of the
/// bridge — with a ``RecordingMessageActions`` at end of message. No socket,
/// no thread, no libmilter: deterministic.
public struct MilterHarness {
    /// What the handler asks of the MTA (the bridge negotiates it).
    public var requirements: MilterRequirements
    /// The directory for body spool files (private, like the daemon's).
    public var spoolDirectory: String
    /// Body bytes kept in memory before spooling.
    public var spoolThreshold: Int
    /// Body bytes per `body` callback.
    public var bodyChunkSize: Int
    /// What the MTA offers at negotiation: everything by default (Postfix
    /// 3.x offers every action and raw header values).
    public var offeredActions: UInt
    public var offeredProtocol: UInt
    /// FAILURE INJECTION: every `smfi_delrcpt` fails as libmilter's would
    /// (`MI_FAILURE`), e.g. the MTA's connection dropped at end of message.
    public var failsRecipientDeletion = false
    /// FAILURE INJECTION: the new body fails after this many bytes
    /// (``RecordingMessageActions/failsBodyReplacementAfter``).
    public var failsBodyReplacementAfter: Int?

    public init(requirements: MilterRequirements, spoolDirectory: String, spoolThreshold: Int = 1 << 20,
                bodyChunkSize: Int = 65_535, offeredActions: UInt = UInt(UInt32.max), offeredProtocol: UInt = UInt(UInt32.max)) {
        self.requirements = requirements
        self.spoolDirectory = spoolDirectory
        self.spoolThreshold = spoolThreshold
        self.bodyChunkSize = bodyChunkSize
        self.offeredActions = offeredActions
        self.offeredProtocol = offeredProtocol
    }

    /// Drives one connection with one message through `handler`.
    ///
    /// - Throws: ``MilterNegotiation/Refusal`` when the offer lacks a required action.
    public func run(_ handler: some MilterHandler, message: MilterMessage, envelope: MilterEnvelope = MilterEnvelope(),
                    sessionID: UInt64 = 1) throws -> MilterRun {
        let session = MilterSession(id: sessionID, spoolThreshold: spoolThreshold, spoolDirectory: spoolDirectory)
        let negotiation = try MilterNegotiation(offeredActions: offeredActions, offeredProtocol: offeredProtocol,
                                                requirements: requirements)
        session.recordNegotiation(negotiation)
        defer {
            handler.close(session: session)
            session.abortMessage()
        }
        let requested = Set(requirements.macros.values.joined())
        func macros(_ all: [String: String]) -> [String: String] {
            all.filter { requested.contains(MacroName.canonical($0.key)) }
        }
        var recipientResponses: [(recipient: MilterRecipient, response: MilterResponse)] = []
        var original = message
        original.recipients = []
        func stopped(_ stage: MilterStage, _ response: MilterResponse) -> MilterRun {
            MilterRun(stage: stage, response: response, recipientResponses: recipientResponses, actions: [],
                      original: original, result: original)
        }
        /// One step as the bridge dispatches it: the handler's answer, or
        /// its failure policy's when it throws; skip only during the body.
        func step(_ stage: MilterStage, _ body: () throws -> MilterResponse) -> MilterResponse {
            var response: MilterResponse
            do { response = try body() } catch { response = handler.failed(error, stage: stage, session: session) }
            if response.status == .skip, stage != .body || !negotiation.canSkip { response = .continue }
            if response.status != .reject, response.status != .tempfail { response.reply = nil }
            return response
        }

        session.recordClient(envelope.client)
        session.recordMacros(macros(envelope.connectMacros), stage: .connect)
        var response = step(.connect) { try handler.connect(session: session) }
        guard response.status == .continue else { return stopped(.connect, response) }
        session.recordHelo(envelope.helo)
        response = step(.helo) { try handler.helo(envelope.helo, session: session) }
        guard response.status == .continue else { return stopped(.helo, response) }

        let transaction = session.beginTransaction(sender: message.sender, arguments: envelope.senderArguments)
        session.recordMacros(macros(envelope.messageMacros), stage: .envelopeSender)
        response = step(.envelopeSender) {
            try handler.envelopeSender(message.sender, arguments: envelope.senderArguments, session: session)
        }
        guard response.status == .continue else { return stopped(.envelopeSender, response) }

        for address in message.recipients {
            let recipient = MilterRecipient(address: address, arguments: envelope.recipientArguments[address] ?? [])
            let answer = step(.envelopeRecipient) { try handler.envelopeRecipient(recipient, session: session) }
            recipientResponses.append((recipient, answer))
            if answer.status == .continue || answer.status == .accept {
                transaction.recordRecipient(recipient)
                original.recipients.append(address)
            }
            if answer.status == .discard { return stopped(.envelopeRecipient, answer) }
        }
        guard !transaction.recipients.isEmpty else {
            // The MTA answers 554 "no valid recipients" itself.
            return stopped(.envelopeRecipient, recipientResponses.last?.response ?? .reject)
        }

        response = step(.data) { try handler.data(session: session) }
        guard response.status == .continue else { return stopped(.data, response) }
        for field in message.headers {
            let passed = negotiation.rawHeaderValues || field.rawBytes.first != 32
                ? field : MilterHeaderField(nameBytes: field.nameBytes, rawBytes: field.rawBytes.dropFirst())
            if requirements.collectsHeaders { transaction.recordHeader(passed) }
            response = step(.header) { try handler.header(passed, session: session) }
            guard response.status == .continue else { return stopped(.header, response) }
        }
        response = step(.endOfHeaders) { try handler.endOfHeaders(session: session) }
        guard response.status == .continue else { return stopped(.endOfHeaders, response) }

        var offset = 0
        let chunkSize = max(1, bodyChunkSize)
        bodyLoop: while offset < message.body.count {
            let end = min(message.body.count, offset + chunkSize)
            let chunk = Array(message.body[offset..<end])
            offset = end
            response = chunk.withUnsafeBytes { buffer in
                step(.body) {
                    if requirements.collectsBody { try transaction.body.append(buffer) }
                    return try handler.body(buffer, session: session)
                }
            }
            switch response.status {
            case .continue: continue
            case .skip: break bodyLoop
            default: return stopped(.body, response)
            }
        }

        session.recordMacros(macros(envelope.messageMacros), stage: .endOfMessage)
        let actions = RecordingMessageActions(granted: MilterActions(rawValue: negotiation.actions),
                                              rawHeaderValues: negotiation.rawHeaderValues)
        actions.failsRecipientDeletion = failsRecipientDeletion
        actions.failsBodyReplacementAfter = failsBodyReplacementAfter
        response = step(.endOfMessage) {
            do { return try handler.endOfMessage(session: session, actions: actions) } catch {
                // As the bridge: never continue with a half-changed message.
                return MilterActionRules.answerAfterFailure(handler.failed(error, stage: .endOfMessage, session: session),
                                                            sentChanges: actions.hasSentChanges)
            }
        }
        actions.close()
        session.endMessage()
        return MilterRun(stage: .endOfMessage, response: response, recipientResponses: recipientResponses,
                         actions: actions.recorded, original: original, result: actions.apply(to: original))
    }
}
