import BrokerStore
import FedMailCore
import FederationProtocol
import Foundation
import Synchronization

/// Issues the broker's CRL (`GET /v1/crl`, `fedmail-broker crl`): every
/// revoked organization certificate with a serial (expired ones included —
/// the list only grows, and a federation's is short), each with its
/// revocation date and reason, signed with the CA key, with a persisted,
/// strictly increasing cRLNumber.
///
/// A signed CRL is reused while the store's revocation revision is
/// unchanged and it is younger than ``reuseInterval``; several broker
/// processes on one database each keep their own and notice a change at
/// the next request (the revision is read every time).
public final class CRLIssuer: Sendable {
    /// How long an unchanged CRL is served before a fresh one is signed
    /// (bounds the thisUpdate age gateways see, and the signing and
    /// cRLNumber work an unauthenticated caller can cause).
    public static let reuseInterval: Int64 = 10

    struct Issued: Sendable {
        var der: [UInt8]
        var revision: Int64
        var thisUpdate: Int64
        var nextUpdate: Int64
    }

    private let cached = Mutex<Issued?>(nil)

    public init() {}

    /// Forgets the cached CRL (after a revocation in this process).
    public func invalidate() {
        cached.withLock { $0 = nil }
    }

    /// The current CRL in DER, with its thisUpdate and nextUpdate.
    public func currentCRL(service: BrokerService, now: Int64) async throws -> (der: [UInt8], thisUpdate: Int64, nextUpdate: Int64) {
        let revision = try await service.store.revocationRevision()
        if let issued = cached.withLock({ $0 }), issued.revision == revision,
           now >= issued.thisUpdate, now - issued.thisUpdate < Self.reuseInterval {
            return (issued.der, issued.thisUpdate, issued.nextUpdate)
        }
        let revocations = try await service.store.revocations()
        let number = try await service.store.nextCRLNumber()
        let entries = revocations.compactMap { revocation -> CertificateRevocationList.Entry? in
            guard let serial = Hex.decode(revocation.serial) else {
                service.logger.error("revoked certificate \(revocation.certificateSHA256) has an unreadable serial; left off the CRL")
                return nil
            }
            return CertificateRevocationList.Entry(serial: serial, revocationDate: revocation.revokedAt,
                                                   reason: RevocationReason(rawValue: revocation.reason) ?? .unspecified)
        }
        let authority = service.authority
        let aki = try authority.caCertificate.extensions.subjectKeyIdentifier.map { Array($0.keyIdentifier) }
        let nextUpdate = now + Int64(service.configuration.crlValidity)
        let der = try CertificateRevocationList.sign(
            issuer: authority.caCertificate.subject, authorityKeyIdentifier: aki, thisUpdate: now, nextUpdate: nextUpdate,
            number: UInt64(max(0, number)), entries: entries, key: authority.caKey)
        let issued = Issued(der: der, revision: revision, thisUpdate: now, nextUpdate: nextUpdate)
        cached.withLock { $0 = issued }
        return (der, now, nextUpdate)
    }
}
