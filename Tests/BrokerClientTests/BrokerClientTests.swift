import BrokerClient
import Crypto
import Foundation
import Testing
import X509

struct BrokerClientTests {
    @Test func base64URLRoundTrip() {
        for length in 0..<40 {
            let data = Data((0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) })
            let text = Base64URL.encode(data)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(text) == data)
        }
    }

    @Test func popEnvelopeRoundTripsForP256() throws {
        let key = P256.Signing.PrivateKey()
        let pop = SymmetricKey(size: .bits256)
        let envelope = try PoPKeyEnvelope.seal(pop, to: Certificate.PublicKey(key.publicKey))
        #expect(envelope.hasPrefix("hpke-p256:"))
        #expect(try PoPKeyEnvelope.open(envelope, privateKeyPEM: key.pemRepresentation) == pop)
        #expect(throws: (any Error).self) {
            _ = try PoPKeyEnvelope.open(envelope, privateKeyPEM: P256.Signing.PrivateKey().pemRepresentation)
        }
    }

    @Test func claimsUseTheDesignNames() throws {
        let claims = FederationClaims(iss: "b", sub: "s", sdom: ["s.example"], scf: "c", aud: "r.example", rorg: "r", rkf: "k",
                                      iat: 1, nbf: 1, exp: 2, jti: "j")
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(claims)) as? [String: Any] ?? [:]
        #expect(Set(object.keys) == ["iss", "sub", "sdom", "scf", "aud", "rorg", "rkf", "purpose", "iat", "nbf", "exp", "jti"])
        #expect(object["purpose"] as? String == "smtp-federation")
    }

    @Test func keyContainerFromAnotherCAIsRefused() async throws {
        let caKey = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("Pinned CA") }
        let ca = try Certificate(version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey),
                                 notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(3_600),
                                 issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                                 extensions: try .init { Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0)) },
                                 issuerPrivateKey: .init(caKey))
        let rogueKey = P256.Signing.PrivateKey()
        let rogueName = try DistinguishedName { CommonName("beta.example") }
        let rogue = try Certificate(version: .v3, serialNumber: .init(), publicKey: .init(rogueKey.publicKey),
                                    notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(3_600),
                                    issuer: rogueName, subject: rogueName, signatureAlgorithm: .ecdsaWithSHA256,
                                    extensions: try .init {
                                        try ExtendedKeyUsage([.emailProtection])
                                        SubjectAlternativeNames([.dnsName("beta.example")])
                                    },
                                    issuerPrivateKey: .init(rogueKey))
        await #expect(throws: BrokerClientError.self) {
            _ = try await KeyContainerValidator(brokerCA: ca).validate(try rogue.serializeAsPEM().pemString, domain: "beta.example")
        }
    }

    @Test func clientRefusesGroupReadableKeysAndMissingFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedmail-client-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: BrokerClientError.self) {
            _ = try BrokerClient(configuration: .init(brokerURL: "https://127.0.0.1:1", caPath: "\(directory)/missing.crt"))
        }
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("self") }
        let certificate = try Certificate(version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
                                          notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(3_600),
                                          issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                                          extensions: .init(), issuerPrivateKey: .init(key))
        let pem = try certificate.serializeAsPEM().pemString
        try pem.write(toFile: "\(directory)/ca.crt", atomically: true, encoding: .utf8)
        try pem.write(toFile: "\(directory)/org.crt", atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: "\(directory)/org.key", contents: Data(key.pemRepresentation.utf8),
                                       attributes: [.posixPermissions: 0o644])
        let configuration = BrokerClientConfiguration(brokerURL: "https://127.0.0.1:1", caPath: "\(directory)/ca.crt",
                                                      certificatePath: "\(directory)/org.crt", keyPath: "\(directory)/org.key")
        #expect(throws: BrokerClientError.self) { _ = try BrokerClient(configuration: configuration) }
        chmod("\(directory)/org.key", 0o600)
        let client = try BrokerClient(configuration: configuration)
        Task { try? await client.shutdown() }
    }
}
