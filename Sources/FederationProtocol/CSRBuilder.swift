import Crypto
import CryptoExtras
import FedMailCore
import X509

/// Builds the certificate signing request a gateway sends to enroll.
public enum CSRBuilder {
    /// A PEM CSR for `organization` signed with the key in `privateKeyPEM` (one the ``OrganizationKeyPolicy`` accepts).
    /// The broker decides the certificate's names; the CSR carries O=CN=organization.
    public static func makeCSR(privateKeyPEM: String, organization: String) throws -> String {
        let key: Certificate.PrivateKey
        let algorithm: Certificate.SignatureAlgorithm
        if let p256 = try? P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM) {
            key = Certificate.PrivateKey(p256)
            algorithm = .ecdsaWithSHA256
        } else if let rsa = try? _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM) {
            if let refusal = OrganizationKeyPolicy.refusal(of: .rsa(modulusBits: rsa.keySizeInBits)) {
                throw FederationProtocolError(.unsupportedKey, refusal)
            }
            key = Certificate.PrivateKey(rsa)
            algorithm = .sha256WithRSAEncryption
        } else {
            throw FederationProtocolError(.unsupportedKey,
                                          "the key is not a PEM private key of a kind organization keys may be (\(OrganizationKeyPolicy.wording))")
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
