import Logging

/// Everything the broker keeps: organizations, their domains, enrollments,
/// federation policy, revoked certificates and the audit trail.
///
/// One implementation, ``SQLBrokerStore``, runs on either real database
/// (``SQLiteBrokerDatabase``, ``PostgresBrokerDatabase``); tests may provide
/// their own for failure injection.
public protocol BrokerStore: Sendable {
    /// Brings the schema up to date. Safe to run from several processes at once.
    func migrate() async throws

    // Enrollments
    /// Records an enrollment and its `enrollment.submitted` audit event in one transaction.
    func addEnrollment(_ enrollment: Enrollment, audit: AuditEvent) async throws
    func enrollment(id: String) async throws -> Enrollment?
    func enrollments(status: Enrollment.Status?) async throws -> [Enrollment]
    /// Records an approval: creates or re-keys the organization with `organization`'s certificate and key,
    /// assigns the enrollment's domains (throws ``StoreError/Code/conflict`` if another organization owns one),
    /// marks the enrollment approved and writes `audit`, all in one transaction.
    ///
    /// An enrollment for an organization that exists (a `key-replacement` one, or a `pending` one
    /// whose organization was enrolled meanwhile) replaces that organization's key only when
    /// `replaceKey` is set; otherwise it throws ``StoreError/Code/conflict``. The replaced
    /// certificate is recorded as revoked with `supersededReason`.
    func approve(enrollmentID: String, organization: Organization, replaceKey: Bool, supersededReason: String,
                 audit: AuditEvent) async throws
    func reject(enrollmentID: String, reason: String, audit: AuditEvent) async throws
    /// Records the domains of a pending enrollment whose DNS challenge was seen, with their audit events.
    func setValidatedDomains(_ domains: [String], enrollmentID: String, audit: [AuditEvent]) async throws
    /// How many enrollments are pending: all of them, or those from `source`.
    func pendingEnrollmentCount(source: String?) async throws -> Int

    // Organizations and domains
    func organization(named name: String) async throws -> Organization?
    func organizations() async throws -> [Organization]
    /// The organization that owns `domain` (lower case), if any.
    func organization(forDomain domain: String) async throws -> Organization?
    func domains(of organization: String) async throws -> [String]
    /// Replaces the organization's certificate (same key, e.g. after a domain change).
    func updateCertificate(of organization: String, certificatePEM: String, certificateSHA256: String) async throws
    /// Replaces an active organization's certificate (and key, for a rekey) if its current
    /// certificate is still `expectedCurrentSHA256` (else ``StoreError/Code/conflict``: another
    /// request replaced it first), records the replaced one as revoked with `supersededReason`
    /// and writes `audit`, all in one transaction.
    func replaceCertificate(of organization: String, expectedCurrentSHA256: String, certificatePEM: String,
                            certificateSHA256: String, publicKeyDER: String, keySHA256: String,
                            supersededReason: String, audit: [AuditEvent]) async throws
    func addDomain(_ domain: String, to organization: String, audit: AuditEvent) async throws
    func removeDomain(_ domain: String, from organization: String, audit: AuditEvent) async throws
    func revoke(organization: String, audit: AuditEvent) async throws
    /// Whether a certificate (by SHA-256 hex) has been revoked or superseded.
    func isCertificateRevoked(sha256: String) async throws -> Bool
    /// Why a certificate was revoked (`superseded`, `key-compromise`, `revoked`, …), nil if it was not.
    func revocationReason(sha256: String) async throws -> String?

    // Revocation list (CRL)
    /// Records a revoked certificate and writes `audit`, in one transaction.
    /// A certificate already listed keeps its date; key compromise marks
    /// every listed certificate for the same key.
    func recordRevocation(_ revocation: CertificateRevocation, audit: AuditEvent) async throws
    /// Carries an organization-wide revocation to the organization's
    /// earlier certificates (every key): `reason` replaces "superseded"
    /// (which would keep mail signed before it), and key compromise
    /// replaces every reason.
    func escalateRevocations(organization: String, to reason: String) async throws
    /// Every revoked certificate with a serial, oldest first.
    func revocations() async throws -> [CertificateRevocation]
    /// Changes whenever the revocation list does (cache check for the CRL).
    func revocationRevision() async throws -> Int64
    /// The next cRLNumber: persisted, strictly increasing across processes.
    func nextCRLNumber() async throws -> Int64

    // Federation policy
    func setRestricted(_ restricted: Bool, organization: String, audit: AuditEvent) async throws
    func allowSender(_ sender: String, to recipient: String, audit: AuditEvent) async throws
    func disallowSender(_ sender: String, to recipient: String, audit: AuditEvent) async throws
    func allowedSenders(to recipient: String) async throws -> [String]
    /// Whether `sender` may send to `recipient` under the recipient's policy.
    func maySend(from sender: String, to recipient: Organization) async throws -> Bool

    // Audit
    func appendAudit(_ events: [AuditEvent]) async throws
    func audit(limit: Int) async throws -> [AuditEvent]

    func close() async throws
}

extension BrokerStore {
    /// Records an enrollment with the default audit event (no request origin).
    public func addEnrollment(_ enrollment: Enrollment) async throws {
        try await addEnrollment(enrollment, audit: AuditEvent(
            at: enrollment.createdAt, actor: enrollment.organization, action: "enrollment.submitted",
            organization: enrollment.organization,
            detail: "id=\(enrollment.id) domains=\(enrollment.domains.joined(separator: ",")) key=\(enrollment.keySHA256)"))
    }

    /// Approves an enrollment for a new organization (never replaces an existing one's key).
    public func approve(enrollmentID: String, organization: Organization, audit: AuditEvent) async throws {
        try await approve(enrollmentID: enrollmentID, organization: organization, replaceKey: false,
                          supersededReason: "superseded", audit: audit)
    }
}
