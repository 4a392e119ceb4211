import FedMailCore

/// Why a sealed message could not be opened. Each code names the check that
/// failed; no plaintext is ever released with one of these.
public struct OpenError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The failed check.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The stable name, e.g. `tag-mismatch`.
        public let name: String
        private init(_ name: String) { self.name = name }

        /// No recipientInfo names one of our keys.
        public static let notForUs = Code("not-for-us")
        /// The AES-GCM tag (or the wrapped content key) does not verify: the message was altered.
        public static let tagMismatch = Code("tag-mismatch")
        /// The inner entity is unsigned or its signature does not verify.
        public static let badSignature = Code("bad-signature")
        /// The signer certificate does not chain to the broker CA.
        public static let signerNotChained = Code("signer-not-chained")
        /// The From domain is not one of the signer organization's domains.
        public static let signerDomainMismatch = Code("signer-domain-mismatch")
        /// signingTime is older than the maximum message age (or in the future).
        public static let tooOld = Code("too-old")
        /// Not a well-formed sealed message (bad base64, truncated CMS, bad MIME).
        public static let malformed = Code("malformed")
        /// Encrypted without authentication (e.g. CBC EnvelopedData): refused.
        public static let notAEAD = Code("not-aead")
        /// A cryptographic algorithm FedMail refuses (e.g. RSA PKCS#1 v1.5 key transport).
        public static let refusedAlgorithm = Code("refused-algorithm")
        /// A local failure (I/O, temp file), not the message's fault.
        public static let internalError = Code("internal")

        public var description: String { name }

        /// A check of ``OpeningPolicy`` (named as the policy names it).
        public static func policy(_ check: OpeningFailure.Check) -> Code { Code(check.name) }
    }

    /// The failed check.
    public var code: Code
    /// Details for the operator.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// A refusal of ``OpeningPolicy``.
    public init(policy failure: OpeningFailure) {
        self.init(.policy(failure.check), failure.message)
    }

    public var description: String { "\(code.name): \(message)" }
}

extension OpenError {
    /// Runs opening work, mapping in one place what is not the message's
    /// fault: a local failure (``CryptoError`` from file descriptors,
    /// temporary files, BIOs) becomes ``Code/internalError``; an
    /// ``OpenError`` passes unchanged.
    static func mappingLocalFailures<T>(_ body: () throws -> T) throws(OpenError) -> T {
        do { return try body() } catch let error as OpenError {
            throw error
        } catch let error as CryptoError {
            throw OpenError(.internalError, error.message)
        } catch {
            throw OpenError(.internalError, "\(error)")
        }
    }
}
