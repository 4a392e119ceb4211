import Crypto
import FederationProtocol
import Foundation
import Testing
import X509

struct KeyContainerValidatorTests {
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
        await #expect(throws: FederationProtocolError.self) {
            _ = try await KeyContainerValidator(brokerCA: ca).validate(try rogue.serializeAsPEM().pemString, domain: "beta.example")
        }
    }
}
