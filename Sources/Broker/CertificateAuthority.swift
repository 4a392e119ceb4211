import FederationProtocol
import Crypto
import CryptoExtras
import Foundation
import SwiftASN1
import X509

/// The broker's PKI: the CA key and certificate, the token-signing key and its
/// certificate, and the profiles of every certificate the broker issues.
///
/// Files in the state directory: `ca.key` (0600, PKCS#8 P-256), `ca.crt`,
/// `token.key` (0600), `token.crt`.
public struct CertificateAuthority: Sendable {
    public let caKey: P256.Signing.PrivateKey
    public let caCertificate: Certificate
    public let tokenKey: P256.Signing.PrivateKey
    public let tokenCertificate: Certificate
    /// The URI every issued certificate names in its cRLDistributionPoints
    /// extension (the broker's `GET /v1/crl`); none when nil.
    public var crlDistributionPoint: String?

    /// The common name of the token-signing certificate. Clients accept a token only when its
    /// `x5c` leaf chains to the pinned CA, carries this name and is not an organization
    /// certificate (organization names cannot contain spaces).
    public static let tokenSignerCommonName = TokenVerifier.tokenSignerCommonName

    static let caFile = "ca.key"
    static let caCertificateFile = "ca.crt"
    static let tokenFile = "token.key"
    static let tokenCertificateFile = "token.crt"

    /// Creates a new CA and token-signing key in `directory` (which must not hold them yet).
    @discardableResult
    public static func initialize(in directory: String, brokerName: String, now: Date = Date()) throws -> CertificateAuthority {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o750])
        for file in [caFile, caCertificateFile, tokenFile, tokenCertificateFile] where FileManager.default.fileExists(atPath: "\(directory)/\(file)") {
            throw BrokerError(.stateFile, "\(directory)/\(file) already exists; refusing to replace the broker's keys")
        }
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName {
            OrganizationName(brokerName)
            CommonName("\(brokerName) CA")
        }
        let caPublicKey = Certificate.PublicKey(caKey.publicKey)
        let caCertificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: caPublicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(20 * 365 * 86_400),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: caPublicKey)
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))
        let tokenKey = P256.Signing.PrivateKey()
        let partial = CertificateAuthority(caKey: caKey, caCertificate: caCertificate, tokenKey: tokenKey, tokenCertificate: caCertificate)
        let tokenCertificate = try partial.issue(
            publicKey: Certificate.PublicKey(tokenKey.publicKey),
            subject: try DistinguishedName {
                OrganizationName(brokerName)
                CommonName(tokenSignerCommonName)
            },
            lifetime: 20 * 365 * 86_400, now: now
        ) {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
        }
        try SecureFile.create("\(directory)/\(caFile)", contents: caKey.pemRepresentation + "\n", mode: 0o600)
        try SecureFile.create("\(directory)/\(caCertificateFile)", contents: try caCertificate.serializeAsPEM().pemString + "\n", mode: 0o644)
        try SecureFile.create("\(directory)/\(tokenFile)", contents: tokenKey.pemRepresentation + "\n", mode: 0o600)
        try SecureFile.create("\(directory)/\(tokenCertificateFile)", contents: try tokenCertificate.serializeAsPEM().pemString + "\n", mode: 0o644)
        return CertificateAuthority(caKey: caKey, caCertificate: caCertificate, tokenKey: tokenKey, tokenCertificate: tokenCertificate)
    }

    /// Loads the CA and token-signing key from `directory`.
    public static func load(from directory: String) throws -> CertificateAuthority {
        do {
            return CertificateAuthority(
                caKey: try P256.Signing.PrivateKey(pemRepresentation: try SecureFile.readPrivate("\(directory)/\(caFile)")),
                caCertificate: try Certificate(pemEncoded: try SecureFile.read("\(directory)/\(caCertificateFile)")),
                tokenKey: try P256.Signing.PrivateKey(pemRepresentation: try SecureFile.readPrivate("\(directory)/\(tokenFile)")),
                tokenCertificate: try Certificate(pemEncoded: try SecureFile.read("\(directory)/\(tokenCertificateFile)")))
        } catch let error as BrokerError {
            throw error
        } catch {
            throw BrokerError(.stateFile, "cannot load the broker keys from \(directory): \(error)")
        }
    }

    init(caKey: P256.Signing.PrivateKey, caCertificate: Certificate, tokenKey: P256.Signing.PrivateKey, tokenCertificate: Certificate) {
        self.caKey = caKey
        self.caCertificate = caCertificate
        self.tokenKey = tokenKey
        self.tokenCertificate = tokenCertificate
    }

    /// The CA certificate in PEM.
    public var caCertificatePEM: String {
        (try? caCertificate.serializeAsPEM().pemString).map { $0 + "\n" } ?? ""
    }

    /// Issues a certificate signed by the CA with SKI (RFC 5280 method 1) and AKI, plus `extensions`.
    func issue(publicKey: Certificate.PublicKey, subject: DistinguishedName, lifetime: Int, now: Date,
               @ExtensionsBuilder extensions: () throws -> Result<Certificate.Extensions, any Error>) throws -> Certificate {
        var all = try extensions().get()
        try all.append(Certificate.Extension(SubjectKeyIdentifier(hash: publicKey), critical: false))
        if let caSKI = try caCertificate.extensions.subjectKeyIdentifier {
            try all.append(Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: caSKI.keyIdentifier), critical: false))
        }
        if let crlDistributionPoint {
            try all.append(CertificateRevocationList.distributionPointsExtension(uri: crlDistributionPoint))
        }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(TimeInterval(lifetime)),
            issuer: caCertificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: all, issuerPrivateKey: Certificate.PrivateKey(caKey))
    }

    /// A TLS server certificate for the broker's own names (made fresh at each start).
    public func issueServerCertificate(names: [String], now: Date = Date()) throws -> (Certificate, P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let generalNames: [GeneralName] = names.map { name in
            if let ip = IPAddressBytes.parse(name) { return .ipAddress(ASN1OctetString(contentBytes: ip[...])) }
            return .dnsName(name)
        }
        let certificate = try issue(
            publicKey: Certificate.PublicKey(key.publicKey),
            subject: try DistinguishedName { CommonName(names.first ?? "localhost") },
            lifetime: 90 * 86_400, now: now
        ) {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(generalNames)
        }
        return (certificate, key)
    }

    /// The organization certificate: subject O=CN=organization, SAN one dNSName per domain,
    /// KU digitalSignature + keyEncipherment (RSA) or keyAgreement (EC), EKU emailProtection + clientAuth.
    public func issueOrganizationCertificate(publicKey: Certificate.PublicKey, organization: String, domains: [String],
                                             lifetime: Int, now: Date = Date()) throws -> Certificate {
        let isRSA = _RSA.Signing.PublicKey(publicKey) != nil
        return try issue(
            publicKey: publicKey,
            subject: try DistinguishedName {
                OrganizationName(organization)
                CommonName(organization)
            },
            lifetime: lifetime, now: now
        ) {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(isRSA ? KeyUsage(digitalSignature: true, keyEncipherment: true)
                           : KeyUsage(digitalSignature: true, keyAgreement: true))
            try ExtendedKeyUsage([.emailProtection, .clientAuth])
            SubjectAlternativeNames(domains.map { .dnsName($0) })
        }
    }

    /// A key container: a short-lived certificate for an organization's key bound to one
    /// domain (dNSName) or one address (rfc822Name). Same key, so same SKI, as the organization certificate.
    public func issueKeyContainer(publicKey: Certificate.PublicKey, organization: String, domain: String? = nil,
                                  address: String? = nil, lifetime: Int, now: Date = Date()) throws -> Certificate {
        let isRSA = _RSA.Signing.PublicKey(publicKey) != nil
        var names: [GeneralName] = []
        if let domain { names.append(.dnsName(domain)) }
        if let address { names.append(.rfc822Name(address)) }
        return try issue(
            publicKey: publicKey,
            subject: try DistinguishedName {
                OrganizationName(organization)
                CommonName(address ?? domain ?? organization)
            },
            lifetime: lifetime, now: now
        ) {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(isRSA ? KeyUsage(keyEncipherment: true) : KeyUsage(keyAgreement: true))
            try ExtendedKeyUsage([.emailProtection])
            SubjectAlternativeNames(names)
        }
    }
}
