/// Why a scan did not produce a verdict.
///
/// `code` says what kind of failure it was (and so which milter action
/// applies); `message` says it for an operator, naming the clamd address.
public struct ScanError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of scan failure.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The clamd address does not parse.
        case invalidAddress = "invalid-address"
        /// Nobody listens at the address (refused, no such socket file, unreachable).
        case connectFailed = "connect-failed"
        /// clamd did not accept, take data or answer within the configured timeout.
        case timedOut = "timed-out"
        /// clamd closed the connection before giving a verdict.
        case connectionClosed = "connection-closed"
        /// clamd answered something this client does not understand.
        case protocolError = "protocol-error"
        /// clamd reported an error of its own (`... ERROR`).
        case clamdError = "clamd-error"
        /// The stream is longer than clamd's `StreamMaxLength` (or the
        /// client's own configured limit): retrying will never succeed.
        case sizeLimitExceeded = "size-limit-exceeded"
        /// The input to scan could not be read.
        case unreadableInput = "unreadable-input"
    }

    /// What kind of failure.
    public var code: Code
    /// What happened, for an operator.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// Whether trying again later may succeed (clamd down, busy or slow).
    /// `false` for a message that is too large, unreadable input or a bad address.
    public var isTransient: Bool {
        switch code {
        case .connectFailed, .timedOut, .connectionClosed, .protocolError, .clamdError: return true
        case .invalidAddress, .sizeLimitExceeded, .unreadableInput: return false
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
