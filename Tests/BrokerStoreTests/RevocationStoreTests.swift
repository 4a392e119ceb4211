import BrokerStore
import Foundation
import Logging
import Testing

/// Migration 10: revoked certificates with serials, the cRLNumber and the revision.
struct RevocationStoreTests {
    static func revocation(_ sha: String, serial: String, key: String = "k1", at: Int64 = 100,
                           reason: String = "superseded") -> CertificateRevocation {
        CertificateRevocation(certificateSHA256: sha, serial: serial, organization: "alpha", keySHA256: key,
                              notAfter: 10_000, revokedAt: at, reason: reason)
    }

    @Test("recordRevocation lists the certificate once, keeps its first date, bumps the revision; key compromise spreads over the key")
    func recordAndUpgrade() async throws {
        let (store, directory) = try await SQLBrokerStoreTests.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try await store.revocations().isEmpty)
        let start = try await store.revocationRevision()
        try await store.recordRevocation(Self.revocation("c1", serial: "0a"), audit: SQLBrokerStoreTests.audit("certificate.revoked"))
        try await store.recordRevocation(Self.revocation("c2", serial: "0b", key: "k2", at: 150, reason: "affiliation-changed"),
                                         audit: SQLBrokerStoreTests.audit("certificate.revoked"))
        try await store.recordRevocation(Self.revocation("c1", serial: "0a", at: 200, reason: "cessation-of-operation"),
                                         audit: SQLBrokerStoreTests.audit("certificate.revoked"))
        var list = try await store.revocations()
        #expect(list.map(\.serial) == ["0a", "0b"])
        #expect(list[0].revokedAt == 100 && list[0].reason == "superseded")
        #expect(try await store.isCertificateRevoked(sha256: "c1"))
        #expect(try await store.revocationRevision() == start + 3)

        try await store.recordRevocation(Self.revocation("c3", serial: "0c", at: 300, reason: "key-compromise"),
                                         audit: SQLBrokerStoreTests.audit("certificate.revoked"))
        list = try await store.revocations()
        #expect(list.first { $0.serial == "0a" }?.reason == "key-compromise")
        #expect(list.first { $0.serial == "0b" }?.reason == "affiliation-changed")
        #expect(list.first { $0.serial == "0c" }?.reason == "key-compromise")
        try await store.close()
    }

    @Test("the cRLNumber strictly increases and survives reopening")
    func crlNumber() async throws {
        let (store, directory) = try await SQLBrokerStoreTests.makeStore()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try await store.nextCRLNumber()
        let second = try await store.nextCRLNumber()
        #expect(second == first + 1)
        try await store.close()
        let reopened = try await SQLBrokerStore.open(location: "sqlite:\(directory)/broker.db", logger: .init(label: "test"))
        try await reopened.migrate()
        #expect(try await reopened.nextCRLNumber() == second + 1)
        try await reopened.close()
    }
}
