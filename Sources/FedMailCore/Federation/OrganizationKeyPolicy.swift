/// The one rule for organization keys (DESIGN.md, "Trust model"): RSA with
/// a modulus of at least 3072 bits, or EC on P-256. Every place that accepts
/// an organization key — the OpenSSL loader and certificate checks, the CSR
/// builder, the broker's CSR check, PoP key envelopes — describes the key in
/// these terms and asks this rule, so they cannot disagree.
public enum OrganizationKeyPolicy {
    /// A key as the rule sees it.
    public enum Key: Sendable, Hashable {
        /// RSA with a modulus of `modulusBits` bits.
        case rsa(modulusBits: Int)
        /// An elliptic-curve key on `curve`.
        case ec(curve: Curve)
        /// Any other algorithm, named for people (`Ed25519`, `DSA`…).
        case other(algorithm: String)
    }

    /// The curve of an elliptic-curve key.
    public enum Curve: Sendable, Hashable, CustomStringConvertible {
        /// NIST P-256 (prime256v1, secp256r1).
        case p256
        /// Any other curve, named for people (`P-384`…).
        case other(name: String)

        public var description: String {
            switch self {
            case .p256: return "P-256"
            case .other(let name): return name
            }
        }
    }

    /// The smallest RSA modulus accepted, in bits.
    public static let minimumRSAModulusBits = 3072

    /// The rule in words, for error messages and help texts.
    public static let wording = "RSA with at least \(minimumRSAModulusBits) bits or EC P-256"

    /// Whether `key` may be an organization key.
    public static func accepts(_ key: Key) -> Bool {
        refusal(of: key) == nil
    }

    /// Why `key` may not be an organization key, in words; `nil` when it may.
    public static func refusal(of key: Key) -> String? {
        switch key {
        case .rsa(let bits) where bits >= minimumRSAModulusBits:
            return nil
        case .rsa(let bits):
            return "RSA key of \(bits) bits; organization keys must be \(wording)"
        case .ec(.p256):
            return nil
        case .ec(let curve):
            return "EC key on \(curve); organization keys must be \(wording)"
        case .other(let algorithm):
            return "\(algorithm) key; organization keys must be \(wording)"
        }
    }
}
