import Foundation
import SwiftASN1
import X509

/// Validates key containers against the pinned broker CA: the chain (RFC 5280
/// at the check time, only the pinned CA as trust anchor), EKU emailProtection,
/// the SAN naming the expected domain or address, and — when a token goes with
/// it — that its key is the one the token names (`rkf`).
public struct KeyContainerValidator: Sendable {
    public let brokerCA: Certificate

    public init(brokerCA: Certificate) {
        self.brokerCA = brokerCA
    }

    /// Validates `pem` for `domain` (dNSName) or `address` (rfc822Name) at `now`.
    /// Returns the parsed certificate.
    public func validate(_ pem: String, domain: String? = nil, address: String? = nil, keyFingerprint: String? = nil,
                         now: Date = Date()) async throws -> Certificate {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: pem)
        } catch {
            throw FederationProtocolError(.invalid, "key container is not a PEM certificate")
        }
        var verifier = Verifier(rootCertificates: CertificateStore([brokerCA])) {
            RFC5280Policy(validationTime: now)
        }
        let result = await verifier.validate(leaf: certificate, intermediates: CertificateStore())
        guard case .validCertificate = result else {
            throw FederationProtocolError(.invalid, "key container does not chain to the pinned broker CA or is not valid now")
        }
        guard let usages = try? certificate.extensions.extendedKeyUsage, usages.contains(.emailProtection) else {
            throw FederationProtocolError(.invalid, "key container lacks extended key usage emailProtection")
        }
        let names = (try? certificate.extensions.subjectAlternativeNames).flatMap { $0 }.map(Array.init) ?? []
        if let domain {
            guard names.contains(where: { if case .dnsName(let name) = $0 { return name.lowercased() == domain.lowercased() }; return false }) else {
                throw FederationProtocolError(.invalid, "key container is not for domain \(domain)")
            }
        }
        if let address {
            guard names.contains(where: { if case .rfc822Name(let name) = $0 { return name.lowercased() == address.lowercased() }; return false }) else {
                throw FederationProtocolError(.invalid, "key container is not for address \(address)")
            }
        }
        if let keyFingerprint {
            guard try Fingerprint.publicKey(certificate.publicKey) == keyFingerprint else {
                throw FederationProtocolError(.invalid, "key container's key is not the one the token names")
            }
        }
        return certificate
    }
}
