import FedMailCore
import FederationProtocol
import X509

/// Checks a certificate signing request from an organization. Only the key
/// and the self-signature count: the names of the certificate come from the
/// enrollment request, never from the CSR (its subjectAltName is ignored).
public enum CSRCheck {
    /// The key types the federation accepts.
    public enum KeyType: String, Sendable {
        case rsa
        case p256
    }

    /// Parses `pem`, verifies the CSR's self-signature, and accepts only keys
    /// the ``OrganizationKeyPolicy`` accepts.
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
        let described = OrganizationKeyPolicy.Key(key)
        if let refusal = OrganizationKeyPolicy.refusal(of: described) {
            throw BrokerError(.unsupportedKey, refusal)
        }
        if case .rsa = described { return .rsa }
        return .p256
    }
}
