internal import COpenSSL

/// An error from a key, certificate or sealing operation, with the
/// OpenSSL error queue when OpenSSL was the one to fail.
public struct CryptoError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What failed.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }

        /// A file could not be read or written.
        public static let io = Code("io")
        /// A private key file is readable by group or others.
        public static let insecureKeyFile = Code("insecure-key-file")
        /// PEM/DER data that does not hold what was expected.
        public static let badEncoding = Code("bad-encoding")
        /// A key of a kind or size FedMail does not accept.
        public static let unsupportedKey = Code("unsupported-key")
        /// A certificate unusable for FedMail (e.g. without subjectKeyIdentifier).
        public static let unsupportedCertificate = Code("unsupported-certificate")
        /// Input that cannot be sealed (e.g. no header section).
        public static let badInput = Code("bad-input")
        /// An original that FedMail will not seal, whoever sends it: its
        /// header section has no end within the limit, holds a byte that
        /// readers take differently (``MessageHeaderSection/ambiguousByte``),
        /// or copies more outside than an opener reads. Permanent: sending
        /// it again gives the same answer.
        public static let unsealableOriginal = Code("unsealable-original")
        /// An OpenSSL operation failed.
        public static let openSSL = Code("openssl")

        public var description: String { name }
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, for an operator.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// An error carrying `message` and the drained OpenSSL error queue.
    static func openSSL(_ message: String, code: Code = .openSSL) -> CryptoError {
        let queue = OpenSSLErrorQueue.drain()
        return CryptoError(code: code, message: queue.isEmpty ? message : "\(message): \(queue)")
    }

    public var description: String { message }
}

/// Reads and clears the thread's OpenSSL error queue.
enum OpenSSLErrorQueue {
    static func drain() -> String {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(cString: buffer))
        }
        return messages.joined(separator: "; ")
    }

    static func clear() { ERR_clear_error() }
}
