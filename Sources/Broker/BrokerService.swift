import FedMailCore
import FederationProtocol
import BrokerStore
import Crypto
import Foundation
import JWTKit
import Logging
import X509

/// The broker's decisions: enrollment, approval, revocation, policy, token and
/// key container issuance. Stateless apart from the store, so any number of
/// broker processes can share one PostgreSQL database.
public struct BrokerService: Sendable {
    public let store: any BrokerStore
    public let authority: CertificateAuthority
    public let configuration: BrokerConfiguration
    public let logger: Logger
    public let metrics: BrokerMetrics
    let signer: JWTKeyCollection
    /// The `iss` of every token: the CA's organization name.
    public let issuer: String
    let tokenCertificatePEM: String
    /// Where DNS challenge records are looked up (``DNSTXTClient`` on the configured resolver; tests replace it).
    public var txtLookup: any TXTLookup
    let validationThrottle = ValidationThrottle()
    /// The signed CRL, reused while the revocation list is unchanged.
    let crlIssuer = CRLIssuer()

    /// The most domains one enrollment or token request may name.
    public static let maximumDomains = 100

    public init(store: any BrokerStore, authority: CertificateAuthority, configuration: BrokerConfiguration,
                logger: Logger, metrics: BrokerMetrics = BrokerMetrics()) async throws {
        self.store = store
        var authority = authority
        if authority.crlDistributionPoint == nil { authority.crlDistributionPoint = configuration.crlDistributionPointURL }
        self.authority = authority
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
        self.issuer = authority.caCertificate.subject.organizationNameValue ?? configuration.brokerName
        self.tokenCertificatePEM = try authority.tokenCertificate.serializeAsPEM().pemString
        self.txtLookup = DNSTXTClient(server: configuration.effectiveDNSResolver, timeout: configuration.dnsTimeout)
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(backing: authority.tokenKey))
        self.signer = keys
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    /// Parses a stored PEM certificate; a failure is an internal error naming what was parsed.
    static func certificate(_ pem: String, _ what: String) throws -> Certificate {
        do {
            return try Certificate(pemEncoded: pem)
        } catch {
            throw BrokerError(.internalError, "stored \(what) is unreadable (\(pem.count) characters): \(error)")
        }
    }

    static func randomID() -> String {
        Hex.encode(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })
    }

    /// Writes an audit event to the store and the log.
    func audit(_ event: AuditEvent) async throws {
        try await store.appendAudit([event])
        log(event)
    }

    func log(_ event: AuditEvent) {
        logger.notice("audit", metadata: ["action": "\(event.action)", "actor": "\(event.actor)",
                                          "organization": "\(event.organization ?? "-")", "detail": "\(event.detail)",
                                          "source": "\(event.source ?? "-")", "identity": "\(event.identity ?? "-")"])
    }

    // MARK: enrollment

    /// Records an enrollment after checking the names, the CSR, domain ownership and the
    /// pending-enrollment quota (`source`: the client's address as rate limits group it);
    /// answers the DNS challenges.
    ///
    /// An enrollment naming an organization that already exists (active or revoked) cannot
    /// replace its key by an ordinary approval: it is held as `key-replacement`, which only
    /// `org approve --replace-key` accepts (after the DNS challenges, like any enrollment).
    /// An enrolled organization renews or rekeys over mutual TLS instead
    /// (``renew(caller:origin:)``, ``rekey(caller:csrPEM:origin:)``).
    public func submitEnrollment(_ request: EnrollmentRequest, origin: RequestOrigin = .local,
                                 source: String? = nil) async throws -> EnrollmentResponse {
        guard Names.isValidOrganization(request.organization) else {
            throw BrokerError(.badRequest, "organization names are 1-64 letters, digits, '.', '_' or '-'")
        }
        let domains = try Self.normalizedDomains(request.domains)
        let (csr, _) = try CSRCheck.check(request.csr)
        for domain in domains {
            if let owner = try await store.organization(forDomain: domain), owner.name != request.organization {
                throw BrokerError(.conflict, "domain \(domain) belongs to another organization")
            }
        }
        try await checkPendingQuota(source: source)
        let existing = try await store.organization(named: request.organization)
        let enrollment = Enrollment(id: Self.randomID(), organization: request.organization, domains: domains,
                                    csrPEM: request.csr, keySHA256: try Fingerprint.publicKey(csr.publicKey),
                                    status: existing == nil ? .pending : .keyReplacement, createdAt: Self.now(),
                                    challengeToken: Self.randomID(), source: source)
        var detail = "id=\(enrollment.id) domains=\(domains.joined(separator: ",")) key=\(enrollment.keySHA256)"
        if let existing {
            detail += " status=key-replacement current-key=\(existing.keySHA256) current-status=\(existing.status.rawValue)"
        }
        let event = origin.stamp(AuditEvent(at: enrollment.createdAt, actor: enrollment.organization, action: "enrollment.submitted",
                                            organization: enrollment.organization, detail: detail))
        try await store.addEnrollment(enrollment, audit: event)
        metrics.enrollments(.submitted).increment()
        log(event)
        return response(for: enrollment)
    }

    /// An enrollment's state (the id is an unguessable 128-bit capability).
    public func enrollmentStatus(id: String) async throws -> EnrollmentResponse {
        guard let enrollment = try await store.enrollment(id: id) else {
            throw BrokerError(.notFound, "no such enrollment")
        }
        return response(for: await validateIfDue(enrollment))
    }

    static func normalizedDomains(_ domains: [String]) throws -> [String] {
        guard !domains.isEmpty, domains.count <= maximumDomains else {
            throw BrokerError(.badRequest, "give 1 to \(maximumDomains) domains")
        }
        var result: [String] = []
        for text in domains {
            guard let domain = DomainName(mailDomain: text)?.value else {
                throw BrokerError(.badRequest, "'\(text)' is not a domain name")
            }
            if !result.contains(domain) { result.append(domain) }
        }
        return result
    }

    /// Approves a pending enrollment: issues the organization certificate (all the organization's
    /// domains in its SAN) for a new organization. Unless `skipDNSValidation` (recorded in the
    /// audit event as `dns=skipped`) or `DNSValidation no`, every domain's DNS challenge must have
    /// been seen.
    ///
    /// An enrollment for an organization that already exists (`key-replacement`) is refused unless
    /// `replaceKey` is set: then the enrollment's key replaces the organization's (a lost key), a
    /// revoked organization becomes active again, and the replaced certificate is revoked —
    /// `superseded`, or `key-compromise` when `oldKeyCompromised` says the lost key may be in
    /// someone else's hands. The audit event names the old and new key and certificate.
    public func approve(enrollmentID: String, replaceKey: Bool = false, oldKeyCompromised: Bool = false,
                        actor: String = "operator", skipDNSValidation: Bool = false) async throws -> Organization {
        guard let enrollment = try await store.enrollment(id: enrollmentID) else {
            throw BrokerError(.notFound, "no enrollment \(enrollmentID)")
        }
        switch enrollment.status {
        case .pending:
            break
        case .keyReplacement where replaceKey:
            break
        case .keyReplacement:
            throw BrokerError(.conflict, "enrollment \(enrollmentID) names organization \(enrollment.organization), which is already enrolled: approving it would replace that organization's key. Verify out of band that the applicant is \(enrollment.organization) and has lost its key, then use --replace-key; an enrolled organization renews or rekeys with its current certificate instead (fedmailctl renew / rekey)")
        default:
            throw BrokerError(.conflict, "enrollment \(enrollmentID) is \(enrollment.status.rawValue), not pending")
        }
        // The certificate covers every domain the organization holds plus the
        // enrollment's, so a key replacement must name them all: each one's
        // DNS challenge is then proven, not only domains the applicant added.
        let held = try await store.domains(of: enrollment.organization)
        let unnamed = held.filter { !enrollment.domains.contains($0) }
        guard unnamed.isEmpty else {
            throw BrokerError(.conflict, "enrollment \(enrollmentID) replaces the key of \(enrollment.organization) but does not name its domain(s) "
                + unnamed.joined(separator: ", ") + ": a key replacement must name every domain the organization holds, so that each one's DNS challenge is proven; the applicant enrolls again naming them")
        }
        let dns = try await dnsApprovalMark(enrollment, skip: skipDNSValidation, actor: actor)
        let previous = try await store.organization(named: enrollment.organization)
        let (csr, _) = try CSRCheck.check(enrollment.csrPEM)
        var domains = try await store.domains(of: enrollment.organization)
        for domain in enrollment.domains where !domains.contains(domain) { domains.append(domain) }
        let certificate = try authority.issueOrganizationCertificate(
            publicKey: csr.publicKey, organization: enrollment.organization, domains: domains.sorted(),
            lifetime: configuration.certificateLifetime)
        let now = Self.now()
        let organization = Organization(
            name: enrollment.organization, status: .active,
            certificatePEM: try certificate.serializeAsPEM().pemString + "\n",
            certificateSHA256: try Fingerprint.certificate(certificate),
            publicKeyDER: Data(try Fingerprint.subjectPublicKeyInfoDER(csr.publicKey)).base64EncodedString(),
            keySHA256: try Fingerprint.publicKey(csr.publicKey), restricted: false, createdAt: now, updatedAt: now)
        let reason: RevocationReason = oldKeyCompromised ? .keyCompromise : .superseded
        var detail = "id=\(enrollmentID) certificate=\(organization.certificateSHA256) key=\(organization.keySHA256) dns=\(dns)"
        if let previous {
            detail += " replaced-certificate=\(previous.certificateSHA256) replaced-key=\(previous.keySHA256)"
                + " previous-status=\(previous.status.rawValue) revocation=\(reason.rawValue)"
        }
        let event = AuditEvent(at: now, actor: actor, action: previous == nil ? "enrollment.approved" : "enrollment.key-replaced",
                               organization: organization.name, detail: detail, source: RequestOrigin.local.source)
        do {
            try await store.approve(enrollmentID: enrollmentID, organization: organization, replaceKey: replaceKey,
                                    supersededReason: reason.rawValue, audit: event)
        } catch let error as StoreError where error.code == .conflict {
            throw BrokerError(.conflict, error.message)
        }
        metrics.enrollments(.approved).increment()
        metrics.issued(.certificate).increment()
        log(event)
        // A revoked organization's certificate is on the CRL already; key
        // compromise still spreads to every certificate of the old key.
        if let previous, previous.status == .active || reason == .keyCompromise {
            try await revokeCertificate(certificatePEM: previous.certificatePEM, organization: previous.name, reason: reason, actor: actor)
        }
        return organization
    }

    public func reject(enrollmentID: String, reason: String, actor: String = "operator") async throws {
        let event = AuditEvent(at: Self.now(), actor: actor, action: "enrollment.rejected", organization: nil,
                               detail: "id=\(enrollmentID) reason=\(reason)")
        try await mapStoreErrors { try await store.reject(enrollmentID: enrollmentID, reason: reason, audit: event) }
        metrics.enrollments(.rejected).increment()
        log(event)
    }

    public func revoke(organization: String, actor: String = "operator") async throws {
        try await revoke(organization: organization, reason: .cessationOfOperation, actor: actor)
    }

    /// Adds a domain and reissues the organization certificate with it in the SAN.
    public func addDomain(_ text: String, to organization: String, actor: String = "operator") async throws -> Organization {
        guard let domain = DomainName(mailDomain: text)?.value else { throw BrokerError(.badRequest, "'\(text)' is not a domain name") }
        let event = AuditEvent(at: Self.now(), actor: actor, action: "domain.added", organization: organization, detail: "domain=\(domain)")
        try await mapStoreErrors { try await store.addDomain(domain, to: organization, audit: event) }
        log(event)
        return try await reissue(organization, superseding: .superseded, actor: actor)
    }

    /// Removes a domain and reissues the organization certificate without it.
    /// The last domain is not removed (its certificate would stay valid,
    /// with nothing to reissue): `org revoke` ends an organization.
    public func removeDomain(_ text: String, from organization: String, actor: String = "operator") async throws -> Organization {
        let domain = text.lowercased()
        let domains = try await store.domains(of: organization)
        if domains == [domain] {
            throw BrokerError(.conflict, "\(domain) is the last domain of \(organization): revoke the organization instead (fedmail-broker org revoke \(organization))")
        }
        let event = AuditEvent(at: Self.now(), actor: actor, action: "domain.removed", organization: organization, detail: "domain=\(domain)")
        try await mapStoreErrors { try await store.removeDomain(domain, from: organization, audit: event) }
        log(event)
        // Earlier certificates lose "signed before" even when the reissue fails.
        do {
            let reissued = try await reissue(organization, superseding: .affiliationChanged, actor: actor)
            try await escalateEarlierCertificates(of: organization, to: .affiliationChanged)
            return reissued
        } catch {
            try? await escalateEarlierCertificates(of: organization, to: .affiliationChanged)
            throw error
        }
    }

    /// Reissues the organization certificate for its current domains (same key) after an
    /// operator's domain change; the replaced certificate is revoked with `reason` (superseded,
    /// or affiliationChanged when a domain was removed). The new certificate is printed to the
    /// operator, and the organization's gateway may also fetch it with `fedmailctl renew`
    /// (renewal accepts a certificate of the current key revoked for either reason).
    func reissue(_ name: String, superseding reason: RevocationReason, actor: String) async throws -> Organization {
        guard let organization = try await store.organization(named: name) else { throw BrokerError(.notFound, "no organization \(name)") }
        guard organization.status == .active else { return organization }
        let domains = try await store.domains(of: name)
        guard !domains.isEmpty else { return organization }
        return try await replaceCertificate(of: organization, action: "certificate.reissued", reason: reason,
                                            actor: actor, origin: .local).0.0
    }

    // MARK: policy

    public func setRestricted(_ restricted: Bool, organization: String, actor: String = "operator") async throws {
        let event = AuditEvent(at: Self.now(), actor: actor, action: restricted ? "policy.restricted" : "policy.open",
                               organization: organization, detail: "")
        try await mapStoreErrors { try await store.setRestricted(restricted, organization: organization, audit: event) }
        log(event)
    }

    public func allow(sender: String, to recipient: String, actor: String = "operator") async throws {
        let event = AuditEvent(at: Self.now(), actor: actor, action: "policy.allowed", organization: recipient, detail: "sender=\(sender)")
        try await mapStoreErrors { try await store.allowSender(sender, to: recipient, audit: event) }
        log(event)
    }

    public func disallow(sender: String, to recipient: String, actor: String = "operator") async throws {
        let event = AuditEvent(at: Self.now(), actor: actor, action: "policy.disallowed", organization: recipient, detail: "sender=\(sender)")
        try await mapStoreErrors { try await store.disallowSender(sender, to: recipient, audit: event) }
        log(event)
    }

    func mapStoreErrors(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as StoreError where error.code == .notFound {
            throw BrokerError(.notFound, error.message)
        } catch let error as StoreError where error.code == .conflict {
            throw BrokerError(.conflict, error.message)
        }
    }

    // MARK: callers

    /// The organization calling over mutual TLS, identified by the certificate the TLS layer
    /// verified against the broker CA. Refused when the organization is revoked, the certificate
    /// was revoked or superseded, or its key is not the organization's current key.
    public struct Caller: Sendable {
        public var organization: Organization
        public var certificate: Certificate
        /// SHA-256 of the presented certificate (`scf`).
        public var certificateSHA256: String
    }

    /// Identifies the caller by its verified client certificate. Every refusal is audited
    /// (`auth.refused`, with the certificate's fingerprint, the source address and the reason).
    ///
    /// `forRenewal`: renewal (`POST /v1/renewal`) also accepts a certificate that was superseded
    /// or reissued after a domain change (not one revoked for another reason) as long as it carries the organization's current key
    /// and has not expired, so a gateway whose certificate the operator reissued, or whose renewal
    /// answer was lost, can still fetch its current certificate. Every other call needs the
    /// current, unrevoked certificate's key.
    public func authenticate(peerCertificateDER der: [UInt8], origin: RequestOrigin = .local,
                             forRenewal: Bool = false) async throws -> Caller {
        do {
            return try await checkCaller(der, forRenewal: forRenewal)
        } catch let error as BrokerError {
            let event = origin.stamp(AuditEvent(
                at: Self.now(), actor: "broker", action: "auth.refused",
                organization: (try? Certificate(derEncoded: der))?.subject.commonNameValue,
                detail: "certificate=\(Fingerprint.sha256Hex(der)) reason=\(error.message)"))
            do { try await audit(event) } catch { log(event) }
            metrics.authenticationsRefused(.init(message: error.message)).increment()
            throw error
        }
    }

    func checkCaller(_ der: [UInt8], forRenewal: Bool) async throws -> Caller {
        let certificate: Certificate
        do {
            certificate = try Certificate(derEncoded: der)
        } catch {
            throw BrokerError(.forbidden, "unreadable client certificate")
        }
        guard let name = certificate.subject.commonNameValue,
              let organization = try await store.organization(named: name) else {
            throw BrokerError(.forbidden, "the client certificate names no enrolled organization")
        }
        guard organization.status == .active else {
            throw BrokerError(.forbidden, "organization \(name) is revoked")
        }
        let fingerprint = try Fingerprint.certificate(certificate)
        guard try Fingerprint.publicKey(certificate.publicKey) == organization.keySHA256 else {
            throw BrokerError(.forbidden, "the client certificate is revoked or no longer the organization's current key")
        }
        guard Date() < certificate.notValidAfter else {
            throw BrokerError(.forbidden, "the client certificate has expired")
        }
        if fingerprint != organization.certificateSHA256 {
            // Not the current certificate: refused unless renewal takes a superseded one.
            // (a reissue after a domain change records affiliation-changed
            // when a domain was removed: the same key, renewed without it).
            let reason = try await store.revocationReason(sha256: fingerprint).flatMap(RevocationReason.init(rawValue:))
            guard forRenewal, reason == .superseded || reason == .affiliationChanged else {
                throw BrokerError(.forbidden, "the client certificate is revoked or superseded; fetch the current one with `fedmailctl renew`")
            }
        } else if try await store.isCertificateRevoked(sha256: fingerprint) {
            throw BrokerError(.forbidden, "the client certificate is revoked")
        }
        return Caller(organization: organization, certificate: certificate, certificateSHA256: fingerprint)
    }

    // MARK: tokens

    /// Answers a batch token request from `caller`.
    public func issueTokens(for caller: Caller, request: TokenRequest, origin: RequestOrigin = .local) async throws -> TokenResponse {
        let started = ContinuousClock.now
        defer { metrics.lookupDuration.record(ContinuousClock.now - started) }
        let mode = request.mode ?? .direct
        guard !request.domains.isEmpty, request.domains.count <= Self.maximumDomains else {
            throw BrokerError(.badRequest, "give 1 to \(Self.maximumDomains) domains")
        }
        let senderDomains = try await store.domains(of: caller.organization.name)
        let now = Self.now()
        var results: [DomainTokenResult] = []
        var events: [AuditEvent] = []
        for text in request.domains {
            guard let domain = DomainName(mailDomain: text)?.value else {
                results.append(DomainTokenResult(domain: text, status: .notFederated))
                continue
            }
            guard let recipient = try await store.organization(forDomain: domain), recipient.status == .active else {
                metrics.notFederated.increment()
                results.append(DomainTokenResult(domain: domain, status: .notFederated))
                continue
            }
            guard try await store.maySend(from: caller.organization.name, to: recipient) else {
                metrics.tokensDenied.increment()
                results.append(DomainTokenResult(domain: domain, status: .denied, reason: "\(recipient.name) does not accept mail from \(caller.organization.name)"))
                continue
            }
            let recipientCertificate = try Self.certificate(recipient.certificatePEM, "certificate of \(recipient.name)")
            let recipientKey = recipientCertificate.publicKey
            // Nothing the answer names outlives the certificates behind it: the token and the key
            // container end no later than the recipient's organization certificate (the key they
            // name) and the caller's (the `scf` they name), so caches expire with them.
            let limit = min(Int64(recipientCertificate.notValidAfter.timeIntervalSince1970),
                            Int64(caller.certificate.notValidAfter.timeIntervalSince1970))
            guard limit > now + 60 else {
                metrics.tokensDenied.increment()
                let expiring = limit == Int64(caller.certificate.notValidAfter.timeIntervalSince1970) ? caller.organization.name : recipient.name
                results.append(DomainTokenResult(domain: domain, status: .denied,
                                                 reason: "the organization certificate of \(expiring) is expiring; it must be renewed"))
                continue
            }
            let expires = min(now + Int64(configuration.tokenLifetime), now + Int64(configuration.keyContainerLifetime), limit)
            // Issued "at" the whole second `now`, so its notAfter is exactly now + lifetime <= limit.
            let container = try authority.issueKeyContainer(publicKey: recipientKey, organization: recipient.name, domain: domain,
                                                            lifetime: Int(min(Int64(configuration.keyContainerLifetime), limit - now)),
                                                            now: Date(timeIntervalSince1970: TimeInterval(now)))
            var claims = FederationClaims(iss: issuer, sub: caller.organization.name, sdom: senderDomains, scf: caller.certificateSHA256,
                                          aud: domain, rorg: recipient.name, rkf: recipient.keySHA256,
                                          iat: now, nbf: now - 60, exp: min(now + Int64(configuration.tokenLifetime), limit),
                                          jti: Self.randomID())
            var popKey: String?
            if mode == .pop {
                let key = SymmetricKey(size: .bits256)
                popKey = try PoPKeyEnvelope.seal(key, to: caller.certificate.publicKey)
                claims.pop = try PoPKeyEnvelope.seal(key, to: recipientKey)
            }
            var header = JWTHeader()
            header.alg = "ES256"
            header.typ = "JWT"
            // jwt-kit takes x5c in PEM and writes it as base64 DER (RFC 7515 §4.1.6).
            header.x5c = [tokenCertificatePEM]
            let token = try await signer.sign(claims, header: header)
            metrics.tokensIssued.increment()
            metrics.issued(.token).increment()
            metrics.issued(.keyContainer).increment()
            results.append(DomainTokenResult(domain: domain, status: .ok, token: token,
                                             keyContainer: try container.serializeAsPEM().pemString + "\n",
                                             expires: expires, popKey: popKey))
            let containerSHA256 = try Fingerprint.certificate(container)
            events.append(origin.stamp(AuditEvent(
                at: now, actor: caller.organization.name, action: "token.issued", organization: recipient.name,
                detail: "jti=\(claims.jti) aud=\(domain) mode=\(mode.rawValue) exp=\(claims.exp) rkf=\(recipient.keySHA256) container=\(containerSHA256)")))
        }
        try await store.appendAudit(events)
        for event in events { log(event) }
        return TokenResponse(results: results)
    }

    /// A key container for one address at an enrolled domain (for external S/MIME clients).
    /// Any address of an enrolled domain gets one, so the answer reveals no mailbox. It ends no
    /// later than the organization certificate of the key it names, and its issuance is audited
    /// (`certificate.address-issued`) with the caller, source and identity.
    public func keyContainer(forAddress address: String, caller: Caller? = nil, origin: RequestOrigin = .local) async throws -> KeyContainerResponse {
        guard let domain = Names.domain(ofAddress: address)?.value else {
            throw BrokerError(.badRequest, "'\(address)' is not a mail address")
        }
        guard let organization = try await store.organization(forDomain: domain), organization.status == .active else {
            throw BrokerError(.notFound, "no federated organization serves \(domain)")
        }
        let organizationCertificate = try Self.certificate(organization.certificatePEM, "certificate of \(organization.name)")
        let key = organizationCertificate.publicKey
        let now = Self.now()
        let limit = Int64(organizationCertificate.notValidAfter.timeIntervalSince1970) - now
        guard limit > 60 else {
            throw BrokerError(.notFound, "the organization certificate serving \(domain) has expired")
        }
        // The local part keeps its case (it may be case-sensitive); the domain is lower-cased.
        let localPart = address[..<(address.lastIndex(of: "@") ?? address.endIndex)]
        let normalized = "\(localPart)@\(domain)"
        let container = try authority.issueKeyContainer(publicKey: key, organization: organization.name, address: normalized,
                                                        lifetime: Int(min(Int64(configuration.keyContainerLifetime), limit)),
                                                        now: Date(timeIntervalSince1970: TimeInterval(now)))
        let containerSHA256 = try Fingerprint.certificate(container)
        metrics.issued(.addressKeyContainer).increment()
        try await audit(origin.stamp(AuditEvent(
            at: now, actor: caller?.organization.name ?? "operator", action: "certificate.address-issued",
            organization: organization.name,
            detail: "address=\(normalized) certificate=\(containerSHA256) key=\(organization.keySHA256) exp=\(Int64(container.notValidAfter.timeIntervalSince1970))")))
        return KeyContainerResponse(address: normalized, keyContainer: try container.serializeAsPEM().pemString + "\n",
                                    expires: Int64(container.notValidAfter.timeIntervalSince1970))
    }
}
