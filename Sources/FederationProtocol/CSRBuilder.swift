import Crypto
import CryptoExtras
import FedMailCore
import X509

/// Builds the certificate signing request (PKCS#10) for an organization key,
/// for `fedmailctl csr` and `fedmailctl enroll` alike.
///
/// The subject is O=CN=organization. When mail domains are given, they go
/// in a subjectAltName (one dNSName each, canonical ``DomainName`` form)
/// requested through the extensionRequest attribute, so the request says
/// what it is for; the broker decides the certificate's names itself and
/// never takes them from the CSR. Signed with SHA-256 by the key.
public enum CSRBuilder {
    /// A PEM CSR for `organization` signed with the key in `privateKeyPEM`
    /// (one the ``OrganizationKeyPolicy`` accepts), naming `domains`.
    public static func makeCSR(privateKeyPEM: String, organization: String, domains: [String] = []) throws -> String {
        guard !organization.isEmpty else { throw FederationProtocolError(.invalid, "the organization name is empty") }
        var names: [String] = []
        for text in domains {
            guard let domain = DomainName(mailDomain: text) else {
                throw FederationProtocolError(.invalid, "'\(text)' is not a DNS domain name")
            }
            if !names.contains(domain.value) { names.append(domain.value) }
        }
        let (key, algorithm) = try signingKey(privateKeyPEM)
        try OrganizationKeyPolicy.check(key.publicKey)
        let subject = try DistinguishedName {
            OrganizationName(organization)
            CommonName(organization)
        }
        var attributes = CertificateSigningRequest.Attributes()
        if !names.isEmpty {
            let extensions = try Certificate.Extensions {
                SubjectAlternativeNames(names.map { .dnsName($0) })
            }
            attributes.insert(try CertificateSigningRequest.Attribute(ExtensionRequest(extensions: extensions)))
        }
        let csr = try CertificateSigningRequest(version: .v1, subject: subject, privateKey: key,
                                                attributes: attributes, signatureAlgorithm: algorithm)
        return try csr.serializeAsPEM().pemString + "\n"
    }

    /// The key in `pem` and the signature algorithm that goes with it.
    static func signingKey(_ pem: String) throws -> (Certificate.PrivateKey, Certificate.SignatureAlgorithm) {
        if let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) {
            return (Certificate.PrivateKey(key), .ecdsaWithSHA256)
        }
        if let key = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) {
            return (Certificate.PrivateKey(key), .sha256WithRSAEncryption)
        }
        if let key = try? P384.Signing.PrivateKey(pemRepresentation: pem) {
            return (Certificate.PrivateKey(key), .ecdsaWithSHA384)
        }
        if let key = try? P521.Signing.PrivateKey(pemRepresentation: pem) {
            return (Certificate.PrivateKey(key), .ecdsaWithSHA512)
        }
        throw FederationProtocolError(.unsupportedKey,
                                      "the key is not a PEM private key of a kind organization keys may be (\(OrganizationKeyPolicy.wording))")
    }
}
