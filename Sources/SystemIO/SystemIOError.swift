/// Why a system call on behalf of FedMail failed: a stable code and a
/// message that names the file and the cause, fit for an operator.
public struct SystemIOError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for code that reacts to it.
    public enum Code: Sendable, Equatable {
        /// The file could not be opened or read.
        case io
        /// A private file is readable or writable by group or others.
        case insecurePermissions
        /// The path is not a regular file.
        case notRegularFile
        /// The file is larger than the reader accepts.
        case tooLarge
        /// A socket address is unusable (unresolvable host, path too long).
        case invalidAddress
        /// The connection could not be made.
        case connectFailed
        /// A deadline passed before the peer answered or took the data.
        case timedOut
        /// The peer closed the connection (or reset it).
        case connectionClosed
    }

    public let code: Code
    public let message: String
    /// The `errno` behind the failure, when a system call failed.
    public let errorNumber: Int32?

    public init(_ code: Code, _ message: String, errorNumber: Int32? = nil) {
        self.code = code
        self.message = message
        self.errorNumber = errorNumber
    }

    /// The system's text for ``errorNumber`` (`Permission denied`), else the message.
    public var reason: String { errorNumber.map(SystemCalls.text) ?? message }

    public var description: String { message }
}
