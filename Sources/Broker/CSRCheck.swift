import FederationProtocol
import CryptoExtras
import Crypto
import X509

/// Checks a certificate signing request from an organization.
public enum CSRCheck {
    /// The key types the federation accepts.
    public enum KeyType: String, Sendable {
        case rsa
        case p256
    }

    /// Parses `pem`, verifies the CSR's self-signature, and accepts only RSA ≥ 3072 or P-256 keys.
    public static func check(_ pem: String) throws -> (CertificateSigningRequest, KeyType) {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(pemEncoded: pem)
        } catch {
            throw BrokerError(.badCSR, "not a PEM certificate signing request")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw BrokerError(.badCSR, "the CSR's signature does not verify with its key")
        }
        return (csr, try keyType(of: csr.publicKey))
    }

    /// The federation key type of `key`, or an error for keys the federation refuses.
    public static func keyType(of key: Certificate.PublicKey) throws -> KeyType {
        if P256.Signing.PublicKey(key) != nil { return .p256 }
        if let rsa = _RSA.Signing.PublicKey(key) {
            guard rsa.keySizeInBits >= 3072 else {
                throw BrokerError(.unsupportedKey, "RSA keys must have at least 3072 bits, this one has \(rsa.keySizeInBits)")
            }
            return .rsa
        }
        throw BrokerError(.unsupportedKey, "only RSA (≥ 3072 bits) and EC P-256 keys are accepted")
    }
}
