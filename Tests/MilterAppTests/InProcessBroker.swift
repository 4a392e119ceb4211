import FederationProtocol
import Broker
import BrokerClient
import FedMailCore
import FedMailCrypto
import Foundation
import Logging
import Milter
import MilterTesting
import X509
@testable import MilterApp

/// A real broker — CA, SQLite store, enrollment, approval, token and key
/// container issuance — in a private directory, with organizations A
/// (a.example) and B (b.example) enrolled and approved. Their keys and
/// certificates are written as a gateway keeps them (OrgKey 0600, OrgCertificate, BrokerCA).
struct EnrolledBroker: Sendable {
    let directory: String
    let service: BrokerService
    var caPath: String { "\(directory)/broker-ca.pem" }

    static func make() async throws -> EnrolledBroker {
        let directory = NSTemporaryDirectory() + "fedmail-inproc-broker-\(UUID().uuidString)"
        var configuration = BrokerConfiguration()
        configuration.stateDirectory = directory + "/state"
        configuration.brokerName = "Seam Test Broker"
        configuration.dnsValidation = false  // approves without publishing DNS challenge records
        try CertificateAuthority.initialize(in: configuration.stateDirectory, brokerName: configuration.brokerName)
        let service = try await BrokerRuntime.makeService(configuration: configuration,
                                                          logger: Logger(label: "broker") { _ in SwiftLogNoOpLogHandler() })
        try service.authority.caCertificatePEM.write(toFile: "\(directory)/broker-ca.pem", atomically: true, encoding: .utf8)
        for org in ["a", "b"] {
            let keyPath = "\(directory)/\(org).key"
            try PrivateKey.generate(.p256).write(toPath: keyPath)
            let keyPEM = try String(contentsOfFile: keyPath, encoding: .utf8)
            let csr = try CSRBuilder.makeCSR(privateKeyPEM: keyPEM, organization: "org-\(org)")
            let enrollment = try await service.submitEnrollment(EnrollmentRequest(organization: "org-\(org)", domains: ["\(org).example"], csr: csr))
            let organization = try await service.approve(enrollmentID: enrollment.id)
            try organization.certificatePEM.write(toFile: "\(directory)/\(org).crt", atomically: true, encoding: .utf8)
        }
        return EnrolledBroker(directory: directory, service: service)
    }

    /// The lookups gateway `org` makes, answered by this broker in process.
    func lookups(for org: String) throws -> InProcessBroker {
        let certificate = try Certificate(pemEncoded: try String(contentsOfFile: "\(directory)/\(org).crt", encoding: .utf8))
        let ca = try Certificate(pemEncoded: service.authority.caCertificatePEM)
        return InProcessBroker(service: service, callerDER: try Fingerprint.der(certificate),
                               callerSHA256: try Fingerprint.certificate(certificate),
                               verifier: TokenVerifier(brokerCA: ca), containers: KeyContainerValidator(brokerCA: ca),
                               orgKey: try PoPKeyEnvelope.OpeningKey(pemRepresentation: try String(contentsOfFile: "\(directory)/\(org).key", encoding: .utf8)))
    }

    /// Gateway `org` configured with this broker as its `BrokerCA` and these answering its lookups.
    func gateway(_ org: String, allowlist: [String], settings: [String] = []) throws -> Gateway {
        try Gateway(org: org, allowlist: allowlist, settings: ["BrokerCA \(caPath)"] + settings,
                    brokers: try lookups(for: org), keys: (key: "\(directory)/\(org).key", certificate: "\(directory)/\(org).crt"))
    }

    func close() async {
        try? await service.store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// TEST DOUBLE of the HTTPS hop only: the gateway's lookups go to a real
/// ``BrokerService`` in process, as the organization whose certificate a
/// mutual-TLS handshake would have shown, and its answers are validated as
/// `BrokerClient` validates them (token signature, chain and audience
/// against the pinned CA, the token issued for our certificate, the key
/// container's chain, domain and key) before the milter sees them.
struct InProcessBroker: FederationBrokerLookup {
    let service: BrokerService
    let callerDER: [UInt8]
    let callerSHA256: String
    let verifier: TokenVerifier
    let containers: KeyContainerValidator
    let orgKey: PoPKeyEnvelope.OpeningKey

    func lookup(domains: [DomainName], broker: String?, mode: FederationMode, timeout: Int) -> [DomainName: DomainLookup] {
        let request = TokenRequest(domains: domains.map(\.value), mode: mode)
        let answers: [String: ValidatedLookup]
        do {
            answers = try BlockingTask.run(timeout: .seconds(timeout), what: "in-process broker lookup") { [self] in
                let caller = try await service.authenticate(peerCertificateDER: callerDER)
                let response = try await service.issueTokens(for: caller, request: request)
                var validated: [String: ValidatedLookup] = [:]
                let now = Date()
                for result in response.results {
                    guard result.status == .ok, let token = result.token, let container = result.keyContainer else {
                        validated[result.domain] = ValidatedLookup(domain: result.domain, status: result.status, expires: 0, reason: result.reason)
                        continue
                    }
                    let claims = try await verifier.verify(token, audience: result.domain, now: now)
                    guard claims.scf == callerSHA256 else { throw FixtureError("token issued for another sender certificate") }
                    _ = try await containers.validate(container, domain: result.domain, keyFingerprint: claims.rkf, now: now)
                    validated[result.domain] = ValidatedLookup(domain: result.domain, status: .ok, token: token, claims: claims,
                                                               keyContainer: container, expires: claims.exp, popKey: result.popKey)
                }
                return validated
            }
        } catch {
            return Dictionary(uniqueKeysWithValues: domains.map {
                ($0, DomainLookup(domain: $0, federation: .unavailable(reason: "in-process broker: \(error)")))
            })
        }
        return FederationBrokers.domainLookups(domains: domains, answers: answers, mode: mode)
    }

    func verify(token: String, audience: String, at time: Date, timeout: Int) throws -> VerifiedTokenClaims {
        try verifier.verifyBlocking(token, audience: audience, at: time, timeout: .seconds(timeout))
    }

    func openPoPKey(_ envelope: String, includingPrevious: Bool) throws -> [UInt8] {
        let key = try PoPKeyEnvelope.open(envelope, privateKey: orgKey)
        return key.withUnsafeBytes { Array($0) }
    }

    func shutdown() {}
}

/// Runs blocking work (the harness, whose broker lookups block like
/// libmilter's threads do) on a thread of its own, outside Swift concurrency.
func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            do { continuation.resume(returning: try work()) } catch { continuation.resume(throwing: error) }
        }
    }
}
