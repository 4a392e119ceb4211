import BrokerStore
import FederationProtocol
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import X509
@testable import Broker

/// The organization certificate's life: a hijack attempt (an unauthenticated
/// enrollment naming an existing organization) held as a key replacement,
/// the operator's --replace-key, renewal and rekey over mutual TLS, expiries
/// capped by the certificates they name, and the audit trail of all of it.
@Suite("organization certificate lifecycle")
struct LifecycleTests {
    static func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }

    static func audit(_ broker: TestBroker, _ action: String) async throws -> [AuditEvent] {
        try await broker.service.store.audit(limit: 1000).filter { $0.action == action }
    }

    /// The key partners get for `domain` in a token answer to `caller` (its `rkf` and the container's key).
    static func partnerKey(_ broker: TestBroker, caller: Certificate, domain: String) async throws -> String {
        let answer = try await broker.service.issueTokens(for: try await broker.caller(caller), request: TokenRequest(domains: [domain]))
        guard let result = answer.results.first, result.status == .ok, let pem = result.keyContainer else { return "none" }
        let container = try Certificate(pemEncoded: pem)
        let claims = try await TokenVerifier(brokerCA: broker.service.authority.caCertificate).verify(result.token ?? "", audience: domain)
        let containerKey = try Fingerprint.publicKey(container.publicKey)
        return "\(claims.rkf) \(containerKey)"
    }

    @Test("a hijack attempt (enrollment naming an existing organization with another key) is held as key-replacement; a plain approve is refused and changes nothing partners seal to")
    func hijackIsHeld() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (aKey, aPEM, _) = TestKeys.p256()
        let alpha = try await broker.enroll("alpha", key: aKey, keyPEM: aPEM, domains: ["alpha.example"])
        let (bKey, bPEM, _) = TestKeys.p256()
        let beta = try await broker.enroll("beta", key: bKey, keyPEM: bPEM, domains: ["beta.example"])
        let alphaKey = try Fingerprint.publicKey(alpha.publicKey)
        #expect(try await Self.partnerKey(broker, caller: beta, domain: "alpha.example") == "\(alphaKey) \(alphaKey)")

        let (_, malloryPEM, _) = TestKeys.p256()
        let csr = try CSRBuilder.makeCSR(privateKeyPEM: malloryPEM, organization: "alpha")
        let attempt = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "alpha", domains: ["alpha.example"], csr: csr))
        #expect(attempt.status == "key-replacement")
        #expect(try await broker.service.store.enrollments(status: .pending).isEmpty)
        #expect(try await broker.service.store.enrollments(status: .keyReplacement).map(\.id) == [attempt.id])
        await #expect(throws: BrokerError.self) { _ = try await broker.service.approve(enrollmentID: attempt.id) }
        #expect(try await broker.service.store.enrollment(id: attempt.id)?.status == .keyReplacement)
        #expect(try await broker.service.store.organization(named: "alpha")?.keySHA256 == alphaKey)
        #expect(try await Self.partnerKey(broker, caller: beta, domain: "alpha.example") == "\(alphaKey) \(alphaKey)")
        _ = try await broker.caller(alpha)   // alpha still authenticates

        // A revoked organization is not re-activated by a plain approve either.
        try await broker.service.revoke(organization: "alpha")
        let again = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "alpha", domains: ["alpha.example"], csr: csr))
        #expect(again.status == "key-replacement")
        await #expect(throws: BrokerError.self) { _ = try await broker.service.approve(enrollmentID: again.id) }
        #expect(try await broker.service.store.organization(named: "alpha")?.status == .revoked)
    }

    @Test("a pending enrollment whose organization got enrolled meanwhile does not replace its key on approval")
    func racingEnrollments() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let first = try CSRBuilder.makeCSR(privateKeyPEM: TestKeys.p256().1, organization: "gamma")
        let second = try CSRBuilder.makeCSR(privateKeyPEM: TestKeys.p256().1, organization: "gamma")
        let one = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "gamma", domains: ["gamma.example"], csr: first))
        let two = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "gamma", domains: ["gamma.example"], csr: second))
        #expect(one.status == "pending" && two.status == "pending")
        let gamma = try await broker.service.approve(enrollmentID: one.id)
        await #expect(throws: BrokerError.self) { _ = try await broker.service.approve(enrollmentID: two.id) }
        #expect(try await broker.service.store.organization(named: "gamma")?.keySHA256 == gamma.keySHA256)
    }

    @Test("a domain owned by another organization (active or revoked) cannot be enrolled")
    func domainOwnedByAnother() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (aKey, aPEM, _) = TestKeys.p256()
        _ = try await broker.enroll("alpha", key: aKey, keyPEM: aPEM, domains: ["alpha.example"])
        let csr = try CSRBuilder.makeCSR(privateKeyPEM: TestKeys.p256().1, organization: "mallory")
        await #expect(throws: BrokerError.self) {
            _ = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "mallory", domains: ["m.example", "ALPHA.example"], csr: csr))
        }
        try await broker.service.revoke(organization: "alpha")
        await #expect(throws: BrokerError.self) {
            _ = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "mallory", domains: ["alpha.example"], csr: csr))
        }
    }

    @Test("a key replacement naming only a domain the applicant holds cannot take over the organization's other domains")
    func replacementMustNameEveryDomain() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (aKey, aPEM, _) = TestKeys.p256()
        let alpha = try await broker.enroll("alpha", key: aKey, keyPEM: aPEM, domains: ["alpha.example"])
        // The attacker names alpha but only its own domain: that domain's DNS
        // challenge could be proven, alpha.example's never would be.
        let (_, mallory, _) = TestKeys.p256()
        let csr = try CSRBuilder.makeCSR(privateKeyPEM: mallory, organization: "alpha")
        let request = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "alpha", domains: ["mallory.example"], csr: csr))
        do {
            _ = try await broker.service.approve(enrollmentID: request.id, replaceKey: true, skipDNSValidation: false)
            Issue.record("a key replacement that does not name alpha.example must be refused")
        } catch let error as BrokerError {
            #expect(error.message.contains("alpha.example"))
        }
        #expect(try await broker.service.store.organization(named: "alpha")?.keySHA256 == (try Fingerprint.publicKey(alpha.publicKey)))
    }

    @Test("approve --replace-key: the new key replaces the old, audited with old and new fingerprints; the old certificate is revoked and no longer authenticates")
    func replaceKey() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (aKey, aPEM, _) = TestKeys.p256()
        let alpha = try await broker.enroll("alpha", key: aKey, keyPEM: aPEM, domains: ["alpha.example"])
        let oldCertificate = try Fingerprint.certificate(alpha)
        let oldKey = try Fingerprint.publicKey(alpha.publicKey)
        let (_, newPEM, _) = TestKeys.p256()
        let csr = try CSRBuilder.makeCSR(privateKeyPEM: newPEM, organization: "alpha")
        let request = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "alpha", domains: ["alpha.example"], csr: csr))
        let organization = try await broker.service.approve(enrollmentID: request.id, replaceKey: true)
        #expect(organization.keySHA256 != oldKey)
        #expect(try await broker.service.store.organization(named: "alpha")?.keySHA256 == organization.keySHA256)
        #expect(try await broker.service.store.revocationReason(sha256: oldCertificate) == "superseded")
        await #expect(throws: BrokerError.self) { _ = try await broker.caller(alpha) }
        await #expect(throws: BrokerError.self) {
            _ = try await broker.service.authenticate(peerCertificateDER: try Fingerprint.der(alpha), forRenewal: true)
        }
        let events = try await Self.audit(broker, "enrollment.key-replaced")
        #expect(events.count == 1)
        let detail = events.first?.detail ?? ""
        #expect(detail.contains("replaced-certificate=\(oldCertificate)") && detail.contains("replaced-key=\(oldKey)"))
        #expect(detail.contains("certificate=\(organization.certificateSHA256)") && detail.contains("key=\(organization.keySHA256)"))
        #expect(detail.contains("revocation=superseded"))
        #expect(events.first?.source == "local")

        // --old-key-compromised: the replaced certificate is revoked for key compromise.
        let third = try CSRBuilder.makeCSR(privateKeyPEM: TestKeys.p256().1, organization: "alpha")
        let next = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "alpha", domains: ["alpha.example"], csr: third))
        _ = try await broker.service.approve(enrollmentID: next.id, replaceKey: true, oldKeyCompromised: true)
        #expect(try await broker.service.store.revocationReason(sha256: organization.certificateSHA256) == "key-compromise")

        // A revoked organization is re-activated only through --replace-key.
        try await broker.service.revoke(organization: "alpha")
        let fourth = try CSRBuilder.makeCSR(privateKeyPEM: TestKeys.p256().1, organization: "alpha")
        let last = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "alpha", domains: ["alpha.example"], csr: fourth))
        _ = try await broker.service.approve(enrollmentID: last.id, replaceKey: true)
        #expect(try await broker.service.store.organization(named: "alpha")?.status == .active)
    }

    @Test("POST /v1/renewal: 401 without a client certificate; with the current one a new certificate for the same key and domains; the old one then gets no tokens but may still renew")
    func renewal() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (aKey, aPEM, _) = TestKeys.p256()
        let alpha = try await broker.enroll("alpha", key: aKey, keyPEM: aPEM, domains: ["alpha.example", "mail.alpha.example"])
        let (bKey, bPEM, _) = TestKeys.p256()
        _ = try await broker.enroll("beta", key: bKey, keyPEM: bPEM, domains: ["beta.example"])
        try await BrokerHTTPStatusTests.withBroker(broker) { client in
            try await client.execute(uri: "/v1/renewal", method: .post) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/rekey", method: .post,
                                     body: try BrokerHTTPStatusTests.json(RekeyRequest(csr: try CSRBuilder.makeCSR(privateKeyPEM: TestKeys.p256().1, organization: "alpha")))) { response in
                #expect(response.status == .unauthorized)
            }
        }
        let renewed = try await BrokerHTTPStatusTests.withBroker(broker, certificate: alpha) { client in
            try await client.execute(uri: "/v1/renewal", method: .post) { response in
                #expect(response.status == .ok)
                return try Self.decode(CertificateResponse.self, response.body)
            }
        }
        let certificate = try Certificate(pemEncoded: renewed.certificate)
        let oldSHA256 = try Fingerprint.certificate(alpha)
        let newSHA256 = try Fingerprint.certificate(certificate)
        #expect(try Fingerprint.publicKey(certificate.publicKey) == Fingerprint.publicKey(alpha.publicKey))
        #expect(renewed.domains == ["alpha.example", "mail.alpha.example"])
        #expect(renewed.replacedCertificateSHA256 == oldSHA256)
        #expect(try await broker.service.store.organization(named: "alpha")?.certificateSHA256 == newSHA256)
        #expect(try await broker.service.store.revocationReason(sha256: oldSHA256) == "superseded")
        let body = try BrokerHTTPStatusTests.json(TokenRequest(domains: ["beta.example"]))
        try await BrokerHTTPStatusTests.withBroker(broker, certificate: alpha) { client in
            try await client.execute(uri: "/v1/tokens", method: .post, body: body) { response in
                #expect(response.status == .forbidden)
            }
            // A lost answer: renewal still accepts the superseded certificate of the current key.
            try await client.execute(uri: "/v1/renewal", method: .post) { response in
                #expect(response.status == .ok)
            }
        }
        let events = try await Self.audit(broker, "certificate.renewed")
        #expect(events.count == 2)
        #expect(events.first?.detail.contains("certificate=\(newSHA256) replaced-certificate=\(oldSHA256)") == true)
        #expect(events.first?.identity == "cert=\(oldSHA256) cn=alpha")
        #expect(events.first?.source != nil)
        let refused = try await Self.audit(broker, "auth.refused")
        #expect(refused.contains { $0.detail.contains("certificate=\(oldSHA256)") && $0.identity != nil })
    }

    @Test("POST /v1/rekey: a CSR for a new key, authenticated by the current certificate, issues at once; the old certificate and key no longer authenticate at all")
    func rekey() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (aKey, aPEM, _) = TestKeys.p256()
        let alpha = try await broker.enroll("alpha", key: aKey, keyPEM: aPEM, domains: ["alpha.example"])
        let (bKey, bPEM, _) = TestKeys.p256()
        let beta = try await broker.enroll("beta", key: bKey, keyPEM: bPEM, domains: ["beta.example"])
        let sameKey = try BrokerHTTPStatusTests.json(RekeyRequest(csr: try CSRBuilder.makeCSR(privateKeyPEM: aPEM, organization: "alpha")))
        let betasKey = try BrokerHTTPStatusTests.json(RekeyRequest(csr: try CSRBuilder.makeCSR(privateKeyPEM: bPEM, organization: "alpha")))
        let (_, newPEM, _) = TestKeys.p256()
        let newCSR = try CSRBuilder.makeCSR(privateKeyPEM: newPEM, organization: "alpha")
        let newKey = try Fingerprint.publicKey(try CertificateSigningRequest(pemEncoded: newCSR).publicKey)
        let rekeyed = try await BrokerHTTPStatusTests.withBroker(broker, certificate: alpha) { client in
            try await client.execute(uri: "/v1/rekey", method: .post, body: sameKey) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/v1/rekey", method: .post, body: betasKey) { response in
                #expect(response.status == .conflict)
            }
            return try await client.execute(uri: "/v1/rekey", method: .post, body: try BrokerHTTPStatusTests.json(RekeyRequest(csr: newCSR))) { response in
                #expect(response.status == .ok)
                return try Self.decode(CertificateResponse.self, response.body)
            }
        }
        let certificate = try Certificate(pemEncoded: rekeyed.certificate)
        #expect(try Fingerprint.publicKey(certificate.publicKey) == newKey)
        #expect(try await Self.partnerKey(broker, caller: beta, domain: "alpha.example") == "\(newKey) \(newKey)")
        await #expect(throws: BrokerError.self) { _ = try await broker.caller(alpha) }
        await #expect(throws: BrokerError.self) {
            _ = try await broker.service.authenticate(peerCertificateDER: try Fingerprint.der(alpha), forRenewal: true)
        }
        _ = try await broker.caller(certificate)
        let events = try await Self.audit(broker, "certificate.rekeyed")
        let oldKey = try Fingerprint.publicKey(alpha.publicKey)
        #expect(events.count == 1)
        #expect(events.first?.detail.contains("key=\(newKey) replaced-key=\(oldKey)") == true)
    }

    @Test("token and key container answers end no later than the organization certificates they name")
    func expiryCappedByCertificate() async throws {
        // Certificates for 2 hours, tokens and key containers for a day.
        let broker = try await TestBroker.make(tokenLifetime: 86_400, keyContainerLifetime: 86_400, certificateLifetime: 7_200)
        defer { Task { await broker.close() } }
        let (aKey, aPEM, _) = TestKeys.p256()
        let alpha = try await broker.enroll("alpha", key: aKey, keyPEM: aPEM, domains: ["alpha.example"])
        let (bKey, bPEM, _) = TestKeys.p256()
        let beta = try await broker.enroll("beta", key: bKey, keyPEM: bPEM, domains: ["beta.example"])
        let answer = try await broker.service.issueTokens(for: try await broker.caller(alpha), request: TokenRequest(domains: ["beta.example"]))
        let result = try #require(answer.results.first)
        #expect(result.status == .ok)
        let limit = Int64(beta.notValidAfter.timeIntervalSince1970)
        #expect((result.expires ?? .max) <= limit)
        let container = try Certificate(pemEncoded: try #require(result.keyContainer))
        #expect(container.notValidAfter <= beta.notValidAfter)
        let claims = try await TokenVerifier(brokerCA: broker.service.authority.caCertificate).verify(try #require(result.token), audience: "beta.example")
        #expect(claims.exp <= limit)
        let address = try await broker.service.keyContainer(forAddress: "bob@beta.example", caller: try await broker.caller(alpha))
        #expect(address.expires <= limit)
        let addressed = try await Self.audit(broker, "certificate.address-issued")
        #expect(addressed.count == 1 && addressed.first?.detail.contains("address=bob@beta.example") == true)
        #expect(addressed.first?.actor == "alpha")
    }

    @Test("audit rows of HTTP requests carry the source and the TLS identity; refused authentications are audited")
    func auditOrigin() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (aKey, aPEM, _) = TestKeys.p256()
        let alpha = try await broker.enroll("alpha", key: aKey, keyPEM: aPEM, domains: ["alpha.example"])
        let (bKey, bPEM, _) = TestKeys.p256()
        _ = try await broker.enroll("beta", key: bKey, keyPEM: bPEM, domains: ["beta.example"])
        let enrollment = try BrokerHTTPStatusTests.json(EnrollmentRequest(
            organization: "gamma", domains: ["gamma.example"],
            csr: try CSRBuilder.makeCSR(privateKeyPEM: TestKeys.p256().1, organization: "gamma")))
        let tokens = try BrokerHTTPStatusTests.json(TokenRequest(domains: ["beta.example"]))
        try await BrokerHTTPStatusTests.withBroker(broker) { client in
            try await client.execute(uri: "/v1/enrollments", method: .post, body: enrollment) { response in
                #expect(response.status == .accepted)
            }
        }
        try await BrokerHTTPStatusTests.withBroker(broker, certificate: alpha) { client in
            try await client.execute(uri: "/v1/tokens", method: .post, body: tokens) { response in
                #expect(response.status == .ok)
            }
        }
        try await broker.service.revoke(organization: "alpha")
        try await BrokerHTTPStatusTests.withBroker(broker, certificate: alpha) { client in
            try await client.execute(uri: "/v1/tokens", method: .post, body: tokens) { response in
                #expect(response.status == .forbidden)
            }
        }
        let submitted = try await Self.audit(broker, "enrollment.submitted").filter { $0.organization == "gamma" }
        #expect(submitted.count == 1)
        #expect(submitted.first?.identity == "none")
        #expect(submitted.first?.source != nil && submitted.first?.source != "local")
        let alphaSHA256 = try Fingerprint.certificate(alpha)
        let identity = "cert=\(alphaSHA256) cn=alpha"
        let issued = try await Self.audit(broker, "token.issued")
        #expect(issued.count == 1 && issued.first?.identity == identity)
        let refused = try await Self.audit(broker, "auth.refused")
        #expect(refused.count == 1)
        #expect(refused.first?.identity == identity)
        #expect(refused.first?.detail.contains("certificate=\(alphaSHA256)") == true)
        #expect(refused.first?.detail.contains("revoked") == true)
    }
}
