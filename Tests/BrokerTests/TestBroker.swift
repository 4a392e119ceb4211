import Broker
import FederationProtocol
import BrokerStore
import Crypto
import CryptoExtras
import Foundation
import Logging
import X509

/// A real broker service (real CA files, real SQLite) in a private temporary
/// directory, without the HTTP layer, for tests of issuance and validation.
struct TestBroker {
    let directory: String
    let service: BrokerService

    /// `dnsValidation` is off by default here: most tests approve without publishing DNS records.
    static func make(tokenLifetime: Int = 3_600, keyContainerLifetime: Int = 86_400,
                     certificateLifetime: Int = 30 * 86_400, dnsValidation: Bool = false,
                     adjust: (inout BrokerConfiguration) -> Void = { _ in }) async throws -> TestBroker {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedmail-broker-\(UUID().uuidString)").path
        var configuration = BrokerConfiguration()
        configuration.stateDirectory = directory
        configuration.tokenLifetime = tokenLifetime
        configuration.keyContainerLifetime = keyContainerLifetime
        configuration.certificateLifetime = certificateLifetime
        configuration.brokerName = "Test Broker"
        configuration.dnsValidation = dnsValidation
        adjust(&configuration)
        try CertificateAuthority.initialize(in: directory, brokerName: configuration.brokerName)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let service = try await BrokerRuntime.makeService(configuration: configuration, logger: logger)
        return TestBroker(directory: directory, service: service)
    }

    /// Enrolls and approves an organization with `key`; returns its certificate.
    /// Submits and approves an enrollment (`replaceKey` for a key replacement of an enrolled organization).
    func enroll(_ name: String, key: Certificate.PrivateKey, keyPEM: String, domains: [String],
                replaceKey: Bool = false) async throws -> Certificate {
        let csr = try CSRBuilder.makeCSR(privateKeyPEM: keyPEM, organization: name)
        let enrollment = try await service.submitEnrollment(EnrollmentRequest(organization: name, domains: domains, csr: csr))
        let organization = try await service.approve(enrollmentID: enrollment.id, replaceKey: replaceKey)
        return try Certificate(pemEncoded: organization.certificatePEM)
    }

    func caller(_ certificate: Certificate) async throws -> BrokerService.Caller {
        try await service.authenticate(peerCertificateDER: try Fingerprint.der(certificate))
    }

    func close() async {
        try? await service.store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Organization keys of both accepted kinds.
enum TestKeys {
    static func p256() -> (Certificate.PrivateKey, String, P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        return (Certificate.PrivateKey(key), key.pemRepresentation, key)
    }

    static func rsa(bits: Int = 3072) throws -> (Certificate.PrivateKey, String) {
        let key = try _RSA.Signing.PrivateKey(keySize: .init(bitCount: bits))
        return (Certificate.PrivateKey(key), key.pemRepresentation)
    }
}
