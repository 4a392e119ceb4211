/// An error from the federation protocol: a token, key container, PoP key
/// envelope or CSR input that is malformed or fails validation, or a key
/// the federation does not accept.
public struct FederationProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        /// Malformed, or fails validation (signature, chain, claims, SAN…).
        public static let invalid = Code("invalid")
        /// A key of a kind or size the federation does not accept.
        public static let unsupportedKey = Code("unsupported-key")
        /// A local file (the pinned CA) is missing, unreadable or not what it should be.
        public static let badLocalFile = Code("bad-local-file")
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
