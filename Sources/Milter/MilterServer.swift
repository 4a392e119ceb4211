internal import CMilter
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process-wide libmilter instance: registers the callbacks, opens the
/// listening socket, runs the libmilter main loop and stops it.
///
/// libmilter allows one filter per process, so this is a namespace over
/// global state. Start-up order: ``register(_:)``, ``openSocket(_:removeStale:)``,
/// (drop privileges), ``run()``; from another thread ``stop()``.
public enum MilterServer {
    /// How the bridge runs: the handler factory and what it needs.
    public struct Configuration: Sendable {
        /// The filter name reported to libmilter.
        public var name: String
        /// What every handler needs from the MTA.
        public var requirements: MilterRequirements
        /// The private directory body spool files go to.
        public var spoolDirectory: String
        /// Body bytes kept in memory before spooling to a file.
        public var spoolThreshold: Int
        /// Seconds libmilter waits on MTA I/O before giving up the
        /// connection; `nil` keeps libmilter's default (7210).
        public var timeout: Int?
        /// The listen backlog; `nil` keeps libmilter's default.
        public var backlog: Int?
        /// Makes the handler for a new connection.
        public var makeHandler: @Sendable () -> any MilterHandler
        /// Receives the bridge's own diagnostics (for example an MTA refused
        /// at negotiation).
        public var log: @Sendable (String) -> Void

        public init(name: String,
                    requirements: MilterRequirements,
                    spoolDirectory: String,
                    spoolThreshold: Int = 1 << 20,
                    timeout: Int? = nil,
                    backlog: Int? = nil,
                    makeHandler: @escaping @Sendable () -> any MilterHandler,
                    log: @escaping @Sendable (String) -> Void) {
            self.name = name
            self.requirements = requirements
            self.spoolDirectory = spoolDirectory
            self.spoolThreshold = spoolThreshold
            self.timeout = timeout
            self.backlog = backlog
            self.makeHandler = makeHandler
            self.log = log
        }
    }

    /// Registers the filter with libmilter. Call once, before ``run()``.
    ///
    /// - Throws: ``MilterError`` `setupFailure` when libmilter refuses.
    public static func register(_ configuration: Configuration) throws(MilterError) {
        MilterRegistry.shared.configuration.withLock { $0 = configuration }
        if let timeout = configuration.timeout, smfi_settimeout(Int32(clamping: timeout)) != MI_SUCCESS {
            throw MilterError(code: .setupFailure, message: "smfi_settimeout(\(timeout)) failed")
        }
        if let backlog = configuration.backlog, smfi_setbacklog(Int32(clamping: backlog)) != MI_SUCCESS {
            throw MilterError(code: .setupFailure, message: "smfi_setbacklog(\(backlog)) failed")
        }
        // libmilter keeps the name pointer: it stays allocated for the process.
        let description = makeFilterDescription(name: strdup(configuration.name),
                                                flags: configuration.requirements.actions.rawValue)
        guard smfi_register(description) == MI_SUCCESS else {
            throw MilterError(code: .setupFailure, message: "smfi_register failed")
        }
    }

    /// Sets the socket libmilter listens on (libmilter form:
    /// `unix:/path`, `inet:port@host`, `inet6:port@host`) and opens it now,
    /// so that it exists before privileges are dropped.
    ///
    /// - Parameter removeStale: remove an existing unix socket file first.
    /// - Throws: ``MilterError`` `setupFailure` when the socket cannot be opened.
    public static func openSocket(_ connection: String, removeStale: Bool) throws(MilterError) {
        // libmilter keeps the pointer: it stays allocated for the process.
        guard smfi_setconn(strdup(connection)) == MI_SUCCESS else {
            throw MilterError(code: .setupFailure, message: "invalid milter socket '\(connection)'")
        }
        guard smfi_opensocket(removeStale ? 1 : 0) == MI_SUCCESS else {
            throw MilterError(code: .setupFailure,
                              message: "cannot open milter socket '\(connection)': \(String(cString: strerror(errno)))")
        }
    }

    /// Runs the libmilter main loop until ``stop()`` (or libmilter's own
    /// SIGTERM/SIGHUP/SIGINT handling) ends it. Connections in flight keep
    /// running on their threads after this returns; see ``waitForSessions(timeout:)``.
    public static func run() throws(MilterError) {
        guard smfi_main() == MI_SUCCESS else {
            throw MilterError(code: .setupFailure, message: "the libmilter main loop failed")
        }
    }

    /// Asks the main loop to stop accepting connections and return at once.
    /// Connections still open are dropped by libmilter; prefer
    /// ``stopGracefully(timeout:)``.
    public static func stop() {
        _ = smfi_stop()
    }

    /// Stops without losing a message: new connections are refused at
    /// negotiation and new messages on open connections are answered with a
    /// temporary failure (the MTA keeps them and retries), messages in
    /// progress are waited for up to `timeout` seconds, then the main loop is
    /// stopped.
    ///
    /// - Returns: whether every message in progress completed in time.
    @discardableResult
    public static func stopGracefully(timeout: Double) -> Bool {
        MilterRegistry.shared.draining.store(true, ordering: .relaxed)
        var waited = 0.0
        var drained = true
        while activeTransactions > 0 {
            if waited >= timeout { drained = false; break }
            usleep(100_000)
            waited += 0.1
        }
        _ = smfi_stop()
        return drained
    }

    /// Whether ``stopGracefully(timeout:)`` has begun.
    public static var isDraining: Bool {
        MilterRegistry.shared.draining.load(ordering: .relaxed)
    }

    /// Messages currently in progress (from their first step to end of
    /// message, abort or close).
    public static var activeTransactions: Int {
        MilterRegistry.shared.activeTransactions.load(ordering: .relaxed)
    }

    /// Connections whose state is currently held (negotiated and not yet closed).
    public static var activeSessions: Int {
        MilterRegistry.shared.activeSessions.load(ordering: .relaxed)
    }

    /// Waits until every connection has closed or `timeout` seconds passed.
    ///
    /// - Returns: whether all connections closed.
    public static func waitForSessions(timeout: Double) -> Bool {
        var waited = 0.0
        while activeSessions > 0 {
            if waited >= timeout { return false }
            usleep(100_000)
            waited += 0.1
        }
        return true
    }
}

/// The state shared by the C callbacks, which cannot capture context.
final class MilterRegistry: Sendable {
    static let shared = MilterRegistry()

    let configuration = Mutex<MilterServer.Configuration?>(nil)
    let activeSessions = Atomic<Int>(0)
    let nextSessionID = Atomic<UInt64>(0)
    let activeTransactions = Atomic<Int>(0)
    /// Messages ended (accepted, refused, aborted or cut off) since start.
    let endedTransactions = Atomic<UInt64>(0)
    let draining = Atomic<Bool>(false)
}

/// The bridge's per-connection object, kept in libmilter's private pointer
/// from the first callback until close.
final class MilterConnection {
    let session: MilterSession
    let handler: any MilterHandler
    let configuration: MilterServer.Configuration
    /// An answer other than continue at connect or HELO when the MTA did
    /// not wait for it (``MilterNegotiation/noReplyStages``): the answer at
    /// every later step the MTA waits for, for the rest of the connection.
    var heldConnectionResponse: MilterResponse?
    /// An answer other than continue at a step of the current message the
    /// MTA did not wait for (MAIL FROM, a header field): the answer at every
    /// later step of the message the MTA waits for (RCPT TO, end of headers).
    var heldMessageResponse: MilterResponse?

    /// The held answer that stands for the next step with a reply, if any.
    var heldResponse: MilterResponse? { heldConnectionResponse ?? heldMessageResponse }

    /// Holds `response` from `stage`, a step without reply; the first one held stays.
    func hold(_ response: MilterResponse, from stage: MilterStage) {
        if stage == .connect || stage == .helo {
            heldConnectionResponse = heldConnectionResponse ?? response
        } else {
            heldMessageResponse = heldMessageResponse ?? response
        }
    }

    init(configuration: MilterServer.Configuration) {
        let id = MilterRegistry.shared.nextSessionID.add(1, ordering: .relaxed).newValue
        self.configuration = configuration
        self.session = MilterSession(id: id, spoolThreshold: configuration.spoolThreshold,
                                     spoolDirectory: configuration.spoolDirectory)
        self.handler = configuration.makeHandler()
        MilterRegistry.shared.activeSessions.add(1, ordering: .relaxed)
    }

    deinit {
        session.endTransaction()
        MilterRegistry.shared.activeSessions.subtract(1, ordering: .relaxed)
    }
}
