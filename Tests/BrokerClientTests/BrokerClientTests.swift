import BrokerClient
import Crypto
import Foundation
import Testing
import X509

struct BrokerClientTests {
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
