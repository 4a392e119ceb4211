import Crypto
import CryptoExtras
import FedMailCore
import X509

extension OrganizationKeyPolicy.Key {
    /// A swift-certificates public key in the terms of the key policy.
    public init(_ key: Certificate.PublicKey) {
        if P256.Signing.PublicKey(key) != nil {
            self = .ec(curve: .p256)
        } else if let rsa = _RSA.Signing.PublicKey(key) {
            self = .rsa(modulusBits: rsa.keySizeInBits)
        } else if P384.Signing.PublicKey(key) != nil {
            self = .ec(curve: .other(name: "P-384"))
        } else if P521.Signing.PublicKey(key) != nil {
            self = .ec(curve: .other(name: "P-521"))
        } else {
            self = .other(algorithm: "an unsupported")
        }
    }
}

extension OrganizationKeyPolicy {
    /// Throws ``FederationProtocolError/Code/unsupportedKey`` unless `key` may be an organization key.
    public static func check(_ key: Certificate.PublicKey) throws(FederationProtocolError) {
        if let refusal = refusal(of: Key(key)) {
            throw FederationProtocolError(.unsupportedKey, refusal)
        }
    }
}
