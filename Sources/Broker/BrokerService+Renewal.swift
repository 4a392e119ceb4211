import BrokerStore
import FedMailCore
import FederationProtocol
import Foundation
import X509

/// Renewal and rekey: an enrolled organization replaces its certificate over
/// mutual TLS with its current one, without an operator. Renewal keeps the
/// key; rekey takes a CSR for a new key, signed by that key (proof of
/// possession), and the request itself is authenticated by the current
/// certificate, so only the organization can do it. The replaced certificate
/// is revoked (superseded) after the new one is stored; the answer carries the
/// new certificate, and renewal still accepts the superseded certificate of
/// the current key, so a lost answer never locks the organization out.
///
/// A rekey makes the new key the one partners seal to at once (their cached
/// key containers end within KeyContainerLifetime); the organization keeps
/// opening with the previous key (`PreviousOrgKey`) for at least
/// TokenLifetime + MaxMessageAge. The broker does not keep the old key valid:
/// tokens issued after the rekey name only the new key (`rkf`).
extension BrokerService {
    /// Issues a new certificate for the caller's current key and domains.
    public func renew(caller: Caller, origin: RequestOrigin = .local) async throws -> CertificateResponse {
        let (organization, certificate) = try await replaceCertificate(
            of: caller.organization, action: "certificate.renewed", actor: caller.organization.name, origin: origin)
        metrics.certificatesRenewed.increment()
        return try response(organization, certificate)
    }

    /// Issues a certificate for a new key (the CSR's) to the caller, replacing its key.
    public func rekey(caller: Caller, csrPEM: String, origin: RequestOrigin = .local) async throws -> CertificateResponse {
        let (csr, _) = try CSRCheck.check(csrPEM)
        let newKey = try Fingerprint.publicKey(csr.publicKey)
        guard newKey != caller.organization.keySHA256 else {
            throw BrokerError(.badRequest, "the CSR carries the organization's current key; a rekey needs a new key (use renewal to keep the key)")
        }
        if let other = try await store.organizations().first(where: { $0.keySHA256 == newKey }) {
            throw BrokerError(.conflict, "that key is already the key of organization \(other.name)")
        }
        let (organization, certificate) = try await replaceCertificate(
            of: caller.organization, newKey: csr.publicKey, action: "certificate.rekeyed",
            actor: caller.organization.name, origin: origin)
        metrics.certificatesRenewed.increment()
        return try response(organization, certificate)
    }

    func response(_ organization: (Organization, String), _ certificate: Certificate) throws -> CertificateResponse {
        var domains: [String] = []
        if let names = try certificate.extensions.subjectAlternativeNames {
            for name in names {
                if case .dnsName(let domain) = name { domains.append(domain) }
            }
        }
        return CertificateResponse(organization: organization.0.name, certificate: organization.0.certificatePEM,
                            domains: domains,
                            expires: Int64(certificate.notValidAfter.timeIntervalSince1970),
                            replacedCertificateSHA256: organization.1)
    }

    /// Issues a certificate for `organization`'s current domains and `newKey` (default: its
    /// current key), stores it if the organization's certificate has not changed meanwhile,
    /// revokes the replaced one (superseded) and audits `action` with both fingerprints.
    /// Returns the updated organization with the replaced certificate's SHA-256, and the new certificate.
    func replaceCertificate(of organization: Organization, newKey: Certificate.PublicKey? = nil, action: String,
                            reason: RevocationReason = .superseded,
                            actor: String, origin: RequestOrigin) async throws -> ((Organization, String), Certificate) {
        let current = try Self.certificate(organization.certificatePEM, "certificate of \(organization.name)")
        let key = newKey ?? current.publicKey
        let domains = try await store.domains(of: organization.name)
        guard !domains.isEmpty else {
            throw BrokerError(.conflict, "organization \(organization.name) has no domains; the operator adds one first")
        }
        let certificate = try authority.issueOrganizationCertificate(publicKey: key, organization: organization.name,
                                                                     domains: domains, lifetime: configuration.certificateLifetime)
        metrics.issued(.certificate).increment()
        var updated = organization
        updated.certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        updated.certificateSHA256 = try Fingerprint.certificate(certificate)
        updated.publicKeyDER = Data(try Fingerprint.subjectPublicKeyInfoDER(key)).base64EncodedString()
        updated.keySHA256 = try Fingerprint.publicKey(key)
        var detail = "certificate=\(updated.certificateSHA256) replaced-certificate=\(organization.certificateSHA256)"
        detail += " key=\(updated.keySHA256)"
        if updated.keySHA256 != organization.keySHA256 { detail += " replaced-key=\(organization.keySHA256)" }
        detail += " domains=\(domains.joined(separator: ",")) not-after=\(Int64(certificate.notValidAfter.timeIntervalSince1970))"
        let event = origin.stamp(AuditEvent(at: Self.now(), actor: actor, action: action, organization: organization.name, detail: detail))
        do {
            try await store.replaceCertificate(
                of: organization.name, expectedCurrentSHA256: organization.certificateSHA256,
                certificatePEM: updated.certificatePEM, certificateSHA256: updated.certificateSHA256,
                publicKeyDER: updated.publicKeyDER, keySHA256: updated.keySHA256,
                supersededReason: reason.rawValue, audit: [event])
        } catch let error as StoreError where error.code == .conflict || error.code == .notFound {
            throw BrokerError(error.code == .conflict ? .conflict : .notFound, error.message)
        }
        log(event)
        try await revokeCertificate(certificatePEM: organization.certificatePEM, organization: organization.name,
                                    reason: reason, actor: actor)
        return ((updated, organization.certificateSHA256), certificate)
    }
}
