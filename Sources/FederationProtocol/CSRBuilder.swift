import Crypto
import CryptoExtras
import X509

/// Builds the certificate signing request a gateway sends to enroll.
public enum CSRBuilder {
    /// A PEM CSR for `organization` signed with the key in `privateKeyPEM` (RSA ≥ 3072 or P-256).
    /// The broker decides the certificate's names; the CSR carries O=CN=organization.
    public static func makeCSR(privateKeyPEM: String, organization: String) throws -> String {
        let key: Certificate.PrivateKey
        let algorithm: Certificate.SignatureAlgorithm
        if let p256 = try? P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM) {
            key = Certificate.PrivateKey(p256)
            algorithm = .ecdsaWithSHA256
        } else if let rsa = try? _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM) {
            guard rsa.keySizeInBits >= 3072 else {
                throw FederationProtocolError(.unsupportedKey, "RSA keys must have at least 3072 bits, this one has \(rsa.keySizeInBits)")
            }
            key = Certificate.PrivateKey(rsa)
            algorithm = .sha256WithRSAEncryption
        } else {
            throw FederationProtocolError(.unsupportedKey, "the key is neither an RSA nor an EC P-256 private key in PEM")
        }
        let subject = try DistinguishedName {
            OrganizationName(organization)
            CommonName(organization)
        }
        let csr = try CertificateSigningRequest(version: .v1, subject: subject, privateKey: key,
                                                attributes: CertificateSigningRequest.Attributes(),
                                                signatureAlgorithm: algorithm)
        return try csr.serializeAsPEM().pemString + "\n"
    }
}
