// What the bridge records into a session at each step, public so that a
// session can be driven without libmilter (the `MilterTesting` harness, or
// another transport): the same methods the C callbacks use, so a driven
// session holds exactly what the bridge would hold.

extension MilterSession {
    /// Records what the MTA granted at negotiation.
    public func recordNegotiation(_ negotiation: MilterNegotiation) {
        self.negotiation = negotiation
    }

    /// Records the client reported at connect.
    public func recordClient(_ client: MilterClient) {
        self.client = client
    }

    /// Records the HELO/EHLO name.
    public func recordHelo(_ name: String) {
        heloName = name
    }

    /// Records macros seen at `stage`: connect and helo macros belong to
    /// the connection, later ones to the current message (created if needed).
    public func recordMacros(_ macros: [String: String], stage: MilterStage) {
        guard !macros.isEmpty else { return }
        recordMacros(canonical: Dictionary(macros.map { (MacroName.canonical($0.key), $0.value) }) { _, new in new }, stage: stage)
    }

    /// ``recordMacros(_:stage:)`` for names already in canonical form (the
    /// bridge asks libmilter by the requirements' canonical names).
    func recordMacros(canonical: [String: String], stage: MilterStage) {
        guard !canonical.isEmpty else { return }
        if stage == .connect || stage == .helo {
            connectionMacros.merge(canonical) { _, new in new }
        } else {
            currentTransaction().macros.merge(canonical) { _, new in new }
        }
    }

    /// Starts a new message at `MAIL FROM` (ending any previous one) and
    /// records its envelope sender.
    @discardableResult
    public func beginTransaction(sender: String, arguments: [String]) -> MilterTransaction {
        endTransaction()
        let transaction = currentTransaction()
        transaction.recordSender(sender, arguments: arguments)
        return transaction
    }

    /// The message in progress, created on first use (as the bridge does
    /// when a step arrives before `MAIL FROM`).
    public func ensureTransaction() -> MilterTransaction {
        currentTransaction()
    }

    /// Ends the message after end of message: its spool is removed and it
    /// counts as completed.
    public func endMessage() {
        endTransaction()
        completedMessages += 1
    }

    /// Drops the message after an abort (or at close).
    public func abortMessage() {
        endTransaction()
    }
}

extension MilterTransaction {
    /// Records the envelope sender and its ESMTP arguments.
    public func recordSender(_ sender: String, arguments: [String]) {
        self.sender = sender
        senderArguments = arguments
    }

    /// Records an accepted recipient.
    public func recordRecipient(_ recipient: MilterRecipient) {
        recipients.append(recipient)
    }

    /// Records a header field, in order.
    public func recordHeader(_ field: MilterHeaderField) {
        headers.append(field)
    }
}
