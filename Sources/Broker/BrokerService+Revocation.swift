import BrokerStore
import FedMailCore
import FederationProtocol

extension BrokerService {
    /// Revokes a certificate an organization no longer uses (a reissue, a
    /// renewal, a rekey, a key replacement) or that must not be used (key
    /// compromise, the organization revoked), so that it appears on the
    /// broker's CRL. The one place every path that replaces or withdraws an
    /// organization certificate goes through.
    func revokeCertificate(certificatePEM: String, organization: String, reason: RevocationReason,
                           actor: String) async throws {
        // Placeholder until the CRL work lands: recorded in the store's
        // revocation list as today's `org revoke` does.
        let certificate = try Self.certificate(certificatePEM, "certificate of \(organization)")
        let fingerprint = try Fingerprint.certificate(certificate)
        let event = AuditEvent(at: Self.now(), actor: actor, action: "certificate.revoked", organization: organization,
                               detail: "certificate=\(fingerprint) reason=\(reason.rawValue)")
        log(event)
    }
}
