@testable import Broker
import Crypto
import FedMailCore
import FederationProtocol
import Foundation
import Testing
import X509

/// The broker, the CSR builder and the milter's allowlist name domains by
/// one rule (``DomainName/init(mailDomain:)``): each accepts exactly the
/// names the others accept, in the same canonical form.
struct DomainRuleAgreementTests {
    static let table: [(text: String, canonical: String?)] = [
        ("example.com", "example.com"),
        ("Mail.Example.COM", "mail.example.com"),
        ("example.com.", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("Bücher.Example.", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        (String(repeating: "a", count: 63) + ".example", String(repeating: "a", count: 63) + ".example"),
        ("localhost", nil),
        ("example", nil),
        ("localhost.", nil),
        ("bücher", nil),
        (String(repeating: "a", count: 64) + ".example", nil),
        ("a_b.example", nil),
        ("_fedmail-challenge.example.com", nil),
        ("-bad.example", nil),
        ("bad-.example", nil),
        ("a..example", nil),
        (".example", nil),
        ("exa\u{0}mple.com", nil),
    ]

    @Test(arguments: table)
    func brokerCSRBuilderAndAllowlistAgree(text: String, canonical: String?) throws {
        // the core rule
        #expect(DomainName(mailDomain: text)?.value == canonical)
        // the broker: enrollment domains, and the domain of an address
        #expect((try? BrokerService.normalizedDomains([text])) == canonical.map { [$0] })
        #expect(Names.domain(ofAddress: "jane@\(text)")?.value == canonical)
        // the CSR builder's subjectAltName
        let csrNames: [GeneralName]? = (try? CSRBuilder.makeCSR(privateKeyPEM: P256.Signing.PrivateKey().pemRepresentation,
                                                                 organization: "x", domains: [text]))
            .flatMap { try? CertificateSigningRequest(pemEncoded: $0).attributes.extensionRequest?.extensions.subjectAlternativeNames }
            .map(Array.init)
        #expect(csrNames == canonical.map { [.dnsName($0)] })
        // the milter's allowlist
        let allowlist = try? FederationAllowlist(parsing: "\(text) require\n", path: "allowlist")
        let expected: [DomainPattern]? = canonical.flatMap { DomainName($0) }.map { [DomainPattern.exact($0)] }
        #expect(allowlist?.entries.map(\.pattern) == expected)
    }

    @Test func theBrokerTakesNamesFromTheEnrollmentNotFromTheCSR() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let csr = try CSRBuilder.makeCSR(privateKeyPEM: TestKeys.p256().1, organization: "gamma", domains: ["evil.example", "gamma.example"])
        #expect(throws: Never.self) { try CSRCheck.check(csr) }
        let enrollment = try await broker.service.submitEnrollment(EnrollmentRequest(organization: "gamma", domains: ["Gamma.Example"], csr: csr))
        #expect(enrollment.domains == ["gamma.example"])
        let organization = try await broker.service.approve(enrollmentID: enrollment.id)
        let certificate = try Certificate(pemEncoded: organization.certificatePEM)
        #expect(Array(try #require(try certificate.extensions.subjectAlternativeNames)) == [.dnsName("gamma.example")])
    }
}
