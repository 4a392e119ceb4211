/// An error of the broker, with the HTTP status it maps to when it reaches a client.
public struct BrokerError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        /// HTTP status for this kind of error.
        public let httpStatus: Int
        private init(_ name: String, _ httpStatus: Int) {
            self.name = name
            self.httpStatus = httpStatus
        }
        public static let badRequest = Code("bad-request", 400)
        public static let badCSR = Code("bad-csr", 400)
        public static let unsupportedKey = Code("unsupported-key", 400)
        public static let clientCertificateRequired = Code("client-certificate-required", 401)
        public static let forbidden = Code("forbidden", 403)
        public static let notFound = Code("not-found", 404)
        public static let conflict = Code("conflict", 409)
        public static let payloadTooLarge = Code("payload-too-large", 413)
        public static let tooManyRequests = Code("too-many-requests", 429)
        public static let stateFile = Code("state-file", 500)
        public static let internalError = Code("internal-error", 500)
        public var description: String { name }
    }

    public var code: Code
    public var message: String
    /// Seconds the client should wait before asking again (`Retry-After`), for `too-many-requests`.
    public var retryAfter: Int?

    public init(_ code: Code, _ message: String, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code): \(message)" }
}
