import BrokerStore
import FedMailCore
import FederationProtocol
import Foundation

extension BrokerService {
    /// Revokes a certificate an organization no longer uses (a reissue, a
    /// renewal, a rekey, a key replacement) or that must not be used (key
    /// compromise, the organization revoked), so that it appears on the
    /// broker's CRL. The one place every path that replaces or withdraws an
    /// organization certificate goes through.
    ///
    /// Records (serial, certificate SHA-256, key, organization, revocation
    /// time, reason) in the store with an audit event, and drops the cached
    /// CRL. The certificate no longer authenticates to the broker
    /// (``authenticate(peerCertificateDER:)``). Key compromise also marks
    /// every certificate already revoked for the same key as compromised.
    func revokeCertificate(certificatePEM: String, organization: String, reason: RevocationReason,
                           actor: String) async throws {
        let certificate = try Self.certificate(certificatePEM, "certificate of \(organization)")
        let fingerprint = try Fingerprint.certificate(certificate)
        let serial = RevocationList.normalizedSerial(certificate.serialNumber.bytes)
        let now = Self.now()
        let revocation = CertificateRevocation(
            certificateSHA256: fingerprint, serial: serial, organization: organization,
            keySHA256: try Fingerprint.publicKey(certificate.publicKey),
            notAfter: Int64(certificate.notValidAfter.timeIntervalSince1970), revokedAt: now, reason: reason.rawValue)
        let event = AuditEvent(at: now, actor: actor, action: "certificate.revoked", organization: organization,
                               detail: "certificate=\(fingerprint) serial=\(serial) reason=\(reason.rawValue)")
        try await store.recordRevocation(revocation, audit: event)
        crlIssuer.invalidate()
        log(event)
    }

    /// Revokes an organization: it may no longer take part, and its current
    /// certificate goes on the CRL with `reason` (cessation of operation by
    /// default; key compromise refuses everything ever signed with the key).
    public func revoke(organization: String, reason: RevocationReason, actor: String = "operator") async throws {
        // Superseded keeps mail "signed before": never a reason to end an organization.
        guard reason != .superseded else {
            throw BrokerError(.badRequest, "superseded is not a reason to revoke an organization (it would keep backdated mail); use cessation-of-operation, key-compromise, affiliation-changed or unspecified")
        }
        guard let current = try await store.organization(named: organization) else {
            throw BrokerError(.notFound, "no organization \(organization)")
        }
        let event = AuditEvent(at: Self.now(), actor: actor, action: "organization.revoked", organization: organization,
                               detail: "reason=\(reason.rawValue)")
        if current.status == .active {
            try await mapStoreErrors { try await store.revoke(organization: organization, audit: event) }
            log(event)
        }
        try await revokeCertificate(certificatePEM: current.certificatePEM, organization: organization, reason: reason, actor: actor)
        try await escalateEarlierCertificates(of: organization, to: reason)
    }

    /// After an organization-wide revocation (the organization revoked, a
    /// domain taken away), its earlier certificates must not keep mail
    /// "signed before" their supersession: the signer picks its
    /// signingTime. `reason` replaces superseded on them (key compromise
    /// replaces every reason), for every key the organization had.
    func escalateEarlierCertificates(of organization: String, to reason: RevocationReason) async throws {
        guard reason != .superseded else { return }
        try await store.escalateRevocations(organization: organization, to: reason.rawValue)
        crlIssuer.invalidate()
    }

    /// The current CRL (DER) with its thisUpdate and nextUpdate.
    public func certificateRevocationList(now: Int64? = nil) async throws -> (der: [UInt8], thisUpdate: Int64, nextUpdate: Int64) {
        try await crlIssuer.currentCRL(service: self, now: now ?? Self.now())
    }
}
