/// The client the MTA is talking to, as reported at connect.
public struct MilterClient: Sendable, Hashable {
    /// The client's host name as the MTA resolved it (or `[address]`).
    public var hostname: String
    /// The client's IP address in text form; `nil` for a local or unknown
    /// connection.
    public var address: String?
    /// The client's port, when known.
    public var port: Int?

    public init(hostname: String, address: String?, port: Int?) {
        self.hostname = hostname
        self.address = address
        self.port = port
    }
}

/// The state of one MTA connection, owned by the bridge from negotiation to
/// close and released at close — also when the MTA aborts or drops the
/// connection mid-message. Callbacks of one connection run one at a time
/// (possibly on different libmilter threads), so a handler may keep its own
/// per-connection state without locks.
public final class MilterSession {
    /// A number unique to this connection within the process, for logs.
    public let id: UInt64
    /// What the MTA granted at negotiation.
    public internal(set) var negotiation: MilterNegotiation?
    /// The client, after connect.
    public internal(set) var client: MilterClient?
    /// The HELO/EHLO name, after helo.
    public internal(set) var heloName: String?
    /// Macros seen at connect and helo (`j`, `{daemon_name}`, `{client_addr}`, ...).
    public internal(set) var connectionMacros: [String: String] = [:]
    /// The message in progress, if any.
    public internal(set) var transaction: MilterTransaction?
    /// Messages completed (end of message reached) on this connection.
    public internal(set) var completedMessages = 0

    let spoolThreshold: Int
    let spoolDirectory: String

    /// Creates a session. The bridge creates one per MTA connection; tests
    /// of a handler create their own.
    ///
    /// - Parameters:
    ///   - id: a number for logs.
    ///   - spoolThreshold: body bytes kept in memory before spooling.
    ///   - spoolDirectory: the private directory for body spool files.
    public init(id: UInt64, spoolThreshold: Int, spoolDirectory: String) {
        self.id = id
        self.spoolThreshold = spoolThreshold
        self.spoolDirectory = spoolDirectory
    }

    /// A macro's value: from the current message first, then the connection.
    /// Names may be given with or without braces.
    public func macro(_ name: String) -> String? {
        let key = MacroName.canonical(name)
        return transaction?.macros[key] ?? connectionMacros[key]
    }

    /// The MTA's queue id, once known, for prefixing log lines.
    public var queueID: String? { transaction?.queueID }

    /// The current transaction, created on first use.
    func currentTransaction() -> MilterTransaction {
        if let transaction { return transaction }
        let created = MilterTransaction(body: SpooledBody(threshold: spoolThreshold, directory: spoolDirectory))
        transaction = created
        MilterRegistry.shared.activeTransactions.add(1, ordering: .relaxed)
        return created
    }

    /// Ends the current message and removes its spool file.
    func endTransaction() {
        guard let transaction else { return }
        transaction.body.discard()
        self.transaction = nil
        MilterRegistry.shared.activeTransactions.subtract(1, ordering: .relaxed)
        MilterRegistry.shared.endedTransactions.add(1, ordering: .relaxed)
    }
}
