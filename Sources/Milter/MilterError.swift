/// An error raised by the milter bridge: a libmilter call that failed, an
/// action used that the MTA did not grant, or a body spool that could not be
/// written or read.
public struct MilterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure happened.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }

        /// A libmilter function returned `MI_FAILURE`.
        public static let libmilterFailure = Code("libmilter-failure")
        /// An end-of-message action that was not negotiated with the MTA.
        public static let actionNotNegotiated = Code("action-not-negotiated")
        /// An action called outside the end-of-message callback.
        public static let actionOutsideEndOfMessage = Code("action-outside-end-of-message")
        /// A header name, value, address or reply that the MTA would not accept.
        public static let invalidArgument = Code("invalid-argument")
        /// Reading or writing the body spool failed.
        public static let spoolFailure = Code("spool-failure")
        /// Registering or starting the milter failed.
        public static let setupFailure = Code("setup-failure")

        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, for the log.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(message) [\(code)]" }
}
