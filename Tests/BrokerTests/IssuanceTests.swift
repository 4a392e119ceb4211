import Broker
import FederationProtocol
import Crypto
import Foundation
import JWTKit
import SwiftASN1
import Testing
import X509

struct IssuanceTests {
    @Test func caFilesArePrivateAndTheCAIsACA() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        for file in ["ca.key", "token.key"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(broker.directory)/\(file)")
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
        let constraints = try broker.service.authority.caCertificate.extensions.basicConstraints
        #expect(constraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(throws: BrokerError.self) {
            try CertificateAuthority.initialize(in: broker.directory, brokerName: "again")
        }
    }

    @Test func organizationCertificateProfile() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (rsaKey, rsaPEM) = try TestKeys.rsa()
        let rsaCertificate = try await broker.enroll("alpha", key: rsaKey, keyPEM: rsaPEM, domains: ["alpha.example", "Mail.Alpha.Example"])
        let (ecKey, ecPEM, _) = TestKeys.p256()
        let ecCertificate = try await broker.enroll("beta", key: ecKey, keyPEM: ecPEM, domains: ["beta.example"])

        for certificate in [rsaCertificate, ecCertificate] {
            // SKI = SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 method 1)
            var serializer = DER.Serializer()
            try serializer.serialize(certificate.publicKey)
            let spki = try DER.parse(serializer.serializedBytes)
            guard case .constructed(let children) = spki.content else { Issue.record("SPKI not a sequence"); return }
            let bits = try ASN1BitString(derEncoded: Array(children)[1])
            let expected = Array(Insecure.SHA1.hash(data: Array(bits.bytes)))
            #expect(try certificate.extensions.subjectKeyIdentifier.map { Array($0.keyIdentifier) } == expected)
            #expect(try certificate.extensions.authorityKeyIdentifier?.keyIdentifier != nil)
            let usages = try #require(try certificate.extensions.extendedKeyUsage)
            #expect(usages.contains(.emailProtection) && usages.contains(.clientAuth))
            #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        }
        let rsaUsage = try #require(try rsaCertificate.extensions.keyUsage)
        #expect(rsaUsage.digitalSignature && rsaUsage.keyEncipherment && !rsaUsage.keyAgreement)
        let ecUsage = try #require(try ecCertificate.extensions.keyUsage)
        #expect(ecUsage.digitalSignature && ecUsage.keyAgreement && !ecUsage.keyEncipherment)
        let names = try #require(try rsaCertificate.extensions.subjectAlternativeNames)
        #expect(Array(names) == [.dnsName("alpha.example"), .dnsName("mail.alpha.example")])
    }

    @Test func weakAndUnsupportedKeysAreRefused() async throws {
        let (key, pem) = try TestKeys.rsa(bits: 2048)
        let subject = try DistinguishedName { CommonName("weak") }
        let csr = try CertificateSigningRequest(version: .v1, subject: subject, privateKey: key,
                                                attributes: .init(), signatureAlgorithm: .sha256WithRSAEncryption)
        #expect(throws: BrokerError.self) { try CSRCheck.check(try csr.serializeAsPEM().pemString) }
        #expect(throws: (any Error).self) { try CSRBuilder.makeCSR(privateKeyPEM: pem, organization: "weak") }
        let p384 = P384.Signing.PrivateKey()
        let csr384 = try CertificateSigningRequest(version: .v1, subject: subject, privateKey: .init(p384),
                                                   attributes: .init(), signatureAlgorithm: .ecdsaWithSHA384)
        #expect(throws: BrokerError.self) { try CSRCheck.check(try csr384.serializeAsPEM().pemString) }
        #expect(throws: BrokerError.self) { try CSRCheck.check("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n") }
    }

    @Test func enrollmentRulesOnNamesAndDomains() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (key, pem, _) = TestKeys.p256()
        _ = try await broker.enroll("alpha", key: key, keyPEM: pem, domains: ["alpha.example"])
        let csr = try CSRBuilder.makeCSR(privateKeyPEM: TestKeys.p256().1, organization: "x")
        await #expect(throws: BrokerError.self) {
            _ = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "gamma", domains: ["alpha.example"], csr: csr))
        }
        await #expect(throws: BrokerError.self) {
            _ = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "bad name", domains: ["g.example"], csr: csr))
        }
        await #expect(throws: BrokerError.self) {
            _ = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "gamma", domains: ["not a domain"], csr: csr))
        }
    }
}
