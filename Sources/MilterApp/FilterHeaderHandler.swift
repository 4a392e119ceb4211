import FedMailCore
import Logging
import Milter

/// The mail behavior of this version: add a header naming the filter, its
/// version and host to every message, proving MTA → Swift milter → MTA end to
/// end. It sees the whole message (envelope, headers in order, spooled body)
/// and logs one summary line per message under its queue id. Later versions
/// replace it with the seal/open handler.
public final class FilterHeaderHandler: MilterHandler {
    /// The header field it adds.
    public static let headerName = "X-FedMail-Filter"

    /// What it needs from the MTA: add headers; envelope, headers and body;
    /// the queue id and the connection and authentication macros for the log.
    public static let requirements = MilterRequirements(
        actions: [.addHeaders],
        stages: [.connect, .helo, .envelopeSender, .envelopeRecipient, .endOfHeaders],
        macros: [
            .connect: ["j", "{daemon_name}", "{client_addr}"],
            .envelopeSender: ["i", "{auth_type}", "{auth_authen}"],
            .endOfMessage: ["i"],
        ],
        collectsHeaders: true,
        collectsBody: true)

    /// The header value: `fedmail-milter VERSION on HOST`.
    public static func headerValue(hostname: String) -> String {
        "\(FedMailMilterVersion.name) \(FedMailMilterVersion.version) on \(hostname)"
    }

    private let configuration: MilterConfiguration
    private let headerValue: String
    private let logger: Logger

    /// Creates the handler for one connection with the configuration in
    /// force when the connection started.
    public init(configuration: MilterConfiguration, hostname: String, logger: Logger) {
        self.configuration = configuration
        self.headerValue = Self.headerValue(hostname: hostname)
        self.logger = logger
    }

    public func connect(session: MilterSession) throws -> MilterResponse {
        logger.debug("""
            connect from \(session.client?.hostname ?? "unknown") [\(session.client?.address ?? "local")] \
            mta=\(session.macro("j") ?? "-") daemon=\(session.macro("{daemon_name}") ?? "-") \
            client_addr=\(session.macro("{client_addr}") ?? "-")
            """, metadata: ["queue-id": "NOQUEUE"])
        return .continue
    }

    public func endOfMessage(session: MilterSession, actions: MilterMessageActions) throws -> MilterResponse {
        try actions.addHeader(name: Self.headerName, value: headerValue)
        if let transaction = session.transaction {
            let auth = session.macro("{auth_authen}").map { " auth=\($0)" } ?? ""
            logger.info("""
                from=\(transaction.sender ?? "<>") rcpts=\(transaction.recipients.count) \
                headers=\(transaction.headers.count) body=\(transaction.body.count) \
                spooled=\(transaction.body.isSpooled ? "yes" : "no")\(auth): added \(Self.headerName)
                """, metadata: ["queue-id": "\(session.queueID ?? "NOQUEUE")"])
        }
        return .continue
    }

    public func abort(session: MilterSession) {
        logger.debug("message aborted by the MTA", metadata: ["queue-id": "\(session.queueID ?? "NOQUEUE")"])
    }

    public func close(session: MilterSession) {
        logger.debug("disconnect after \(session.completedMessages) message(s)", metadata: ["queue-id": "NOQUEUE"])
    }

    public func failed(_ error: any Error, stage: MilterStage, session: MilterSession) -> MilterResponse {
        let action = configuration.onInternalError
        logger.error("internal error at \(stage): \(error); answering \(action.rawValue)",
                     metadata: ["queue-id": "\(session.queueID ?? "NOQUEUE")"])
        switch action {
        case .accept: return .continue
        case .reject: return .reject
        case .tempfail: return .tempfail
        }
    }
}
