import BrokerStore
import Crypto
import FedMailCore
@testable import FederationProtocol
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwiftASN1
import Testing
import X509
@testable import Broker

/// Revocation at the broker: every reissue revokes the superseded
/// certificate, `org revoke` with a reason, the signed CRL (RFC 5280) that
/// `GET /v1/crl` serves and that the real openssl accepts, and the
/// cRLDistributionPoints extension in what the broker issues.
@Suite("broker revocation and CRL")
struct RevocationTests {
    static func crl(_ broker: TestBroker) async throws -> (der: [UInt8], list: CertificateRevocationList) {
        let crl = try await broker.service.certificateRevocationList()
        let list = try CertificateRevocationList.verify(der: crl.der, caCertificate: broker.service.authority.caCertificate)
        return (crl.der, list)
    }

    static func serial(_ certificate: Certificate) -> [UInt8] {
        Array(certificate.serialNumber.bytes.drop(while: { $0 == 0 }))
    }

    @Test("an empty CRL verifies against the CA: v2, issuer, AKI, cRLNumber increasing, nextUpdate = thisUpdate + CRLValidity")
    func emptyCRL() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (_, first) = try await Self.crl(broker)
        #expect(first.entries.isEmpty)
        #expect(first.issuer == broker.service.authority.caCertificate.subject)
        #expect(first.nextUpdate == first.thisUpdate + Int64(broker.service.configuration.crlValidity))
        #expect(first.authorityKeyIdentifier != nil)
        let fresh = try await broker.service.crlIssuer.currentCRL(service: broker.service, now: first.thisUpdate + CRLIssuer.reuseInterval + 1)
        let second = try CertificateRevocationList.verify(der: fresh.der, caCertificate: broker.service.authority.caCertificate)
        #expect((second.number ?? 0) > (first.number ?? 0))
    }

    @Test("add-domain revokes the superseded certificate (superseded), remove-domain too (affiliation changed); neither authenticates any more")
    func reissueRevokes() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (key, keyPEM, _) = TestKeys.p256()
        let first = try await broker.enroll("org-a", key: key, keyPEM: keyPEM, domains: ["a.example"])
        _ = try await broker.caller(first)

        let afterAdd = try Certificate(pemEncoded: try await broker.service.addDomain("a2.example", to: "org-a").certificatePEM)
        var (_, list) = try await Self.crl(broker)
        #expect(list.entries.count == 1)
        #expect(list.entries.first?.serial == Self.serial(first))
        #expect(list.entries.first?.reason == .superseded)
        await #expect(throws: BrokerError.self) { _ = try await broker.caller(first) }
        _ = try await broker.caller(afterAdd)

        let afterRemove = try Certificate(pemEncoded: try await broker.service.removeDomain("a2.example", from: "org-a").certificatePEM)
        (_, list) = try await Self.crl(broker)
        #expect(list.entries.count == 2)
        #expect(list.entries.first { $0.serial == Self.serial(afterAdd) }?.reason == .affiliationChanged)
        await #expect(throws: BrokerError.self) { _ = try await broker.caller(afterAdd) }
        _ = try await broker.caller(afterRemove)

        // Every certificate names the CRL distribution point.
        let distributionPoint = afterRemove.extensions.first { $0.oid == [2, 5, 29, 31] }
        #expect(distributionPoint != nil)
        let uriBytes: ArraySlice<UInt8> = distributionPoint?.value ?? []
        let uriText = String(decoding: uriBytes, as: UTF8.self)
        #expect(uriText.contains("/v1/crl"))
    }

    @Test("org revoke --reason key-compromise marks every certificate of the key compromised; a default revoke is cessation of operation")
    func keyCompromise() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (key, keyPEM, _) = TestKeys.p256()
        let first = try await broker.enroll("org-a", key: key, keyPEM: keyPEM, domains: ["a.example"])
        let current = try Certificate(pemEncoded: try await broker.service.addDomain("a2.example", to: "org-a").certificatePEM)
        try await broker.service.revoke(organization: "org-a", reason: .keyCompromise)
        let (_, list) = try await Self.crl(broker)
        #expect(list.entries.count == 2)
        #expect(list.entries.allSatisfy { $0.reason == .keyCompromise })
        #expect(Set(list.entries.map(\.serial)) == Set([Self.serial(first), Self.serial(current)]))

        let (otherKey, otherPEM, _) = TestKeys.p256()
        let other = try await broker.enroll("org-b", key: otherKey, keyPEM: otherPEM, domains: ["b.example"])
        try await broker.service.revoke(organization: "org-b")
        let (_, after) = try await Self.crl(broker)
        #expect(after.entries.first { $0.serial == Self.serial(other) }?.reason == .cessationOfOperation)
        // Upgrading the reason later: key compromise wins.
        try await broker.service.revoke(organization: "org-b", reason: .keyCompromise)
        let (_, upgraded) = try await Self.crl(broker)
        #expect(upgraded.entries.first { $0.serial == Self.serial(other) }?.reason == .keyCompromise)
    }

    /// A superseded certificate keeps mail signed before its revocation
    /// (signingTime, chosen by the signer). Once the organization itself is
    /// revoked, or loses a domain, its earlier certificates must not stay
    /// "superseded": a backdated message signed with one (of its old key,
    /// perhaps the stolen one it rekeyed away from) would pass.
    @Test("org revoke and remove-domain carry the reason to the organization's earlier superseded certificates, of every key")
    func revocationReachesEarlierCertificates() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (key, keyPEM, _) = TestKeys.p256()
        let first = try await broker.enroll("org-a", key: key, keyPEM: keyPEM, domains: ["a.example"])
        let (newKey, newPEM, _) = TestKeys.p256()
        let rekeyed = try await broker.enroll("org-a", key: newKey, keyPEM: newPEM, domains: ["a.example"], replaceKey: true)
        try await broker.service.revoke(organization: "org-a", reason: .keyCompromise)
        var (_, list) = try await Self.crl(broker)
        #expect(list.entries.first { $0.serial == Self.serial(first) }?.reason == .keyCompromise)
        #expect(list.entries.first { $0.serial == Self.serial(rekeyed) }?.reason == .keyCompromise)

        let (bKey, bPEM, _) = TestKeys.p256()
        let bFirst = try await broker.enroll("org-b", key: bKey, keyPEM: bPEM, domains: ["b.example", "b2.example"])
        let bSecond = try Certificate(pemEncoded: try await broker.service.addDomain("b3.example", to: "org-b").certificatePEM)
        (_, list) = try await Self.crl(broker)
        #expect(list.entries.first { $0.serial == Self.serial(bFirst) }?.reason == .superseded)
        _ = try await broker.service.removeDomain("b2.example", from: "org-b")
        (_, list) = try await Self.crl(broker)
        #expect(list.entries.first { $0.serial == Self.serial(bFirst) }?.reason == .affiliationChanged)
        #expect(list.entries.first { $0.serial == Self.serial(bSecond) }?.reason == .affiliationChanged)
        try await broker.service.revoke(organization: "org-b")
        (_, list) = try await Self.crl(broker)
        // Cessation does not undo the stricter affiliation change; key compromise would.
        #expect(list.entries.first { $0.serial == Self.serial(bFirst) }?.reason == .affiliationChanged)
    }

    @Test("remove-domain refuses an organization's last domain (its certificate would stay valid), and org revoke refuses 'superseded'")
    func lastDomainAndSuperseded() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (key, keyPEM, _) = TestKeys.p256()
        let only = try await broker.enroll("org-a", key: key, keyPEM: keyPEM, domains: ["a.example"])
        await #expect(throws: BrokerError.self) { _ = try await broker.service.removeDomain("a.example", from: "org-a") }
        await #expect(throws: BrokerError.self) { try await broker.service.revoke(organization: "org-a", reason: .superseded) }
        let (_, list) = try await Self.crl(broker)
        #expect(list.entries.isEmpty)
        _ = try await broker.caller(only)
    }

    @Test("approving a key replacement for an enrolled organization revokes the replaced certificate (superseded)")
    func approveReplaces() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (key, keyPEM, _) = TestKeys.p256()
        let first = try await broker.enroll("org-a", key: key, keyPEM: keyPEM, domains: ["a.example"])
        let (newKey, newPEM, _) = TestKeys.p256()
        _ = try await broker.enroll("org-a", key: newKey, keyPEM: newPEM, domains: ["a.example"], replaceKey: true)
        let (_, list) = try await Self.crl(broker)
        #expect(list.entries.map(\.serial) == [Self.serial(first)])
        #expect(list.entries.first?.reason == .superseded)
    }

    @Test("openssl crl -verify accepts the CRL; openssl verify -crl_check says revoked for a revoked certificate and OK for a current one")
    func opensslAgrees() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (key, keyPEM, _) = TestKeys.p256()
        let old = try await broker.enroll("org-a", key: key, keyPEM: keyPEM, domains: ["a.example"])
        let current = try Certificate(pemEncoded: try await broker.service.addDomain("a2.example", to: "org-a").certificatePEM)
        let (der, _) = try await Self.crl(broker)

        let directory = broker.directory
        let crlPath = "\(directory)/crl.der", crlPEMPath = "\(directory)/crl.pem"
        try Data(der).write(to: URL(fileURLWithPath: crlPath))
        let pem = "-----BEGIN X509 CRL-----\n" + Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed]) + "\n-----END X509 CRL-----\n"
        try pem.write(toFile: crlPEMPath, atomically: true, encoding: .utf8)
        try old.serializeAsPEM().pemString.write(toFile: "\(directory)/old.pem", atomically: true, encoding: .utf8)
        try current.serializeAsPEM().pemString.write(toFile: "\(directory)/current.pem", atomically: true, encoding: .utf8)

        guard let crlCheck = try OpenSSLCommand.run(["crl", "-inform", "DER", "-in", crlPath, "-CAfile", "\(directory)/ca.crt", "-noout", "-text"]) else {
            return  // no openssl here
        }
        #expect(crlCheck.status == 0, "\(crlCheck.output)")
        #expect(crlCheck.output.contains("verify OK"), "\(crlCheck.output)")
        #expect(crlCheck.output.contains("Superseded"), "\(crlCheck.output)")
        #expect(crlCheck.output.contains("X509v3 CRL Number"), "\(crlCheck.output)")

        let revoked = try OpenSSLCommand.run(["verify", "-crl_check", "-CAfile", "\(directory)/ca.crt", "-CRLfile", crlPEMPath, "\(directory)/old.pem"])
        #expect(revoked?.status != 0)
        #expect(revoked?.output.contains("certificate revoked") == true, "\(revoked?.output ?? "")")
        let good = try OpenSSLCommand.run(["verify", "-crl_check", "-CAfile", "\(directory)/ca.crt", "-CRLfile", crlPEMPath, "\(directory)/current.pem"])
        #expect(good?.status == 0, "\(good?.output ?? "")")
        #expect(good?.output.contains("OK") == true)
    }

    @Test("GET /v1/crl: 200, application/pkix-crl, caching headers, a DER CRL that verifies; no client certificate needed")
    func crlRoute() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let (key, keyPEM, _) = TestKeys.p256()
        let old = try await broker.enroll("org-a", key: key, keyPEM: keyPEM, domains: ["a.example"])
        _ = try await broker.service.addDomain("a2.example", to: "org-a")
        let ca = broker.service.authority.caCertificate
        try await BrokerHTTPStatusTests.withBroker(broker) { client in
            try await client.execute(uri: "/v1/crl", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/pkix-crl")
                #expect(response.headers[.cacheControl]?.hasPrefix("public, max-age=") == true)
                #expect(response.headers[.lastModified]?.hasSuffix("GMT") == true)
                #expect(response.headers[.expires] != nil)
                let list = try CertificateRevocationList.verify(der: Array(response.body.readableBytesView), caCertificate: ca)
                #expect(list.entries.map(\.serial) == [Self.serial(old)])
            }
        }
    }

    @Test("a CRL with a flipped byte, another CA's CRL, garbage and truncations are refused, never trusted")
    func hostileCRLs() async throws {
        let broker = try await TestBroker.make()
        defer { Task { await broker.close() } }
        let ca = broker.service.authority.caCertificate
        let (der, _) = try await Self.crl(broker)
        for index in stride(from: 0, to: der.count, by: 7) {
            var bad = der
            bad[index] ^= 0x01
            #expect(throws: FederationProtocolError.self) { _ = try CertificateRevocationList.verify(der: bad, caCertificate: ca) }
        }
        for length in [0, 1, 2, der.count / 2, der.count - 1] {
            #expect(throws: FederationProtocolError.self) {
                _ = try CertificateRevocationList.verify(der: Array(der.prefix(length)), caCertificate: ca)
            }
        }
        #expect(throws: FederationProtocolError.self) {
            _ = try CertificateRevocationList.verify(der: der + [0], caCertificate: ca)
        }
        let other = try await TestBroker.make()
        defer { Task { await other.close() } }
        #expect(throws: FederationProtocolError.self) {
            _ = try CertificateRevocationList.verify(der: der, caCertificate: other.service.authority.caCertificate)
        }
    }

    @Test("CRL encoding round-trips: serials with the top bit set, the epoch, 2049/2050 (UTCTime/GeneralizedTime), every reason")
    func roundTrip() throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("Round Trip CA") }
        let entries = [
            CertificateRevocationList.Entry(serial: [0x80, 0x01], revocationDate: 0, reason: .keyCompromise),
            CertificateRevocationList.Entry(serial: [0x01], revocationDate: 2_524_607_999, reason: .superseded),  // 2049-12-31T23:59:59Z
            CertificateRevocationList.Entry(serial: [0x7f, 0xff, 0xff], revocationDate: 2_524_608_000, reason: .affiliationChanged),
            CertificateRevocationList.Entry(serial: [0x42], revocationDate: 1_700_000_000, reason: .cessationOfOperation),
            CertificateRevocationList.Entry(serial: [0x43], revocationDate: 1_700_000_001, reason: .unspecified),
        ]
        let der = try CertificateRevocationList.sign(issuer: name, authorityKeyIdentifier: [1, 2, 3], thisUpdate: 1_700_000_000,
                                                     nextUpdate: 1_700_086_400, number: 0x1_0000_0001, entries: entries, key: key)
        let (parsed, _, _) = try CertificateRevocationList.parse(der)
        #expect(parsed.entries == entries)
        #expect(parsed.number == 0x1_0000_0001)
        #expect(parsed.thisUpdate == 1_700_000_000 && parsed.nextUpdate == 1_700_086_400)
        #expect(parsed.authorityKeyIdentifier == [1, 2, 3])
        let list = parsed.revocationList
        #expect(list.entry(forSerial: "8001")?.reason == .keyCompromise)
        #expect(list.entry(forSerial: "0001")?.reason == .superseded)
    }
}

/// Runs the `openssl` command line tool when it is installed; nil when not.
enum OpenSSLCommand {
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String)? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/openssl" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
