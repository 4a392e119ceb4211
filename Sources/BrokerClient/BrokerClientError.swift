import FederationProtocol

/// An error from talking to the broker or validating what it said.
public struct BrokerClientError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        /// The broker could not be reached or did not answer in time.
        public static let unavailable = Code("unavailable")
        /// The broker answered with an HTTP error.
        public static let refused = Code("refused")
        /// The answer is malformed or fails validation (signature, chain, claims, SAN…).
        public static let badAnswer = Code("bad-answer")
        /// A local file (CA, key, certificate) is missing, unreadable or unsafe.
        public static let badLocalFile = Code("bad-local-file")
        /// A key type the federation does not support.
        public static let unsupportedKey = Code("unsupported-key")
        public var description: String { name }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

extension BrokerClientError {
    /// A protocol error met while validating what the broker said (or a
    /// local file), in the client's terms: its message is kept.
    public init(_ error: FederationProtocolError) {
        switch error.code {
        case .unsupportedKey: self.init(.unsupportedKey, error.message)
        case .badLocalFile: self.init(.badLocalFile, error.message)
        default: self.init(.badAnswer, error.message)
        }
    }

    /// Runs `body`, turning a ``FederationProtocolError`` it throws into a ``BrokerClientError``.
    static func validating<T>(isolation: isolated (any Actor)? = #isolation,
                              _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as FederationProtocolError { throw BrokerClientError(error) }
    }
}
