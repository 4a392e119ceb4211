@testable import BrokerStore
import Foundation
import Logging
import Testing

/// The store on a real SQLite file (PostgreSQL runs the same code in contrib/test/t-broker.sh).
struct SQLBrokerStoreTests {
    static func makeStore() async throws -> (SQLBrokerStore, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fedmail-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = try await SQLBrokerStore.open(location: "sqlite:\(directory)/broker.db", logger: Logger(label: "test"))
        try await store.migrate()
        return (store, directory)
    }

    static func organization(_ name: String, key: String = "k") -> Organization {
        Organization(name: name, status: .active, certificatePEM: "PEM-\(name)", certificateSHA256: "cert-\(name)-\(key)",
                     publicKeyDER: "DER", keySHA256: key, restricted: false, createdAt: 1, updatedAt: 1)
    }

    static func enroll(_ store: SQLBrokerStore, _ name: String, _ domains: [String]) async throws -> String {
        let id = UUID().uuidString
        try await store.addEnrollment(Enrollment(id: id, organization: name, domains: domains, csrPEM: "CSR",
                                                 keySHA256: "k", status: .pending, createdAt: 1))
        return id
    }

    static func audit(_ action: String) -> AuditEvent {
        AuditEvent(at: 2, actor: "operator", action: action, organization: nil, detail: "")
    }

    @Test func migrationsAreIdempotentAndRecorded() async throws {
        let (store, directory) = try await Self.makeStore()
        try await store.migrate()
        let rows = try await store.database.query("SELECT version FROM schema_migrations ORDER BY version", [])
        // Every migration recorded once, in order, after running migrate() twice.
        #expect(rows.compactMap { $0["version"]?.int64 } == Migrations.all(for: .sqlite).map { Int64($0.version) })
        try await store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test func approvalAssignsDomainsAndADomainBelongsToOneOrganization() async throws {
        let (store, directory) = try await Self.makeStore()
        let first = try await Self.enroll(store, "alpha", ["alpha.example", "shared.example"])
        try await store.approve(enrollmentID: first, organization: Self.organization("alpha"), audit: Self.audit("enrollment.approved"))
        #expect(try await store.organization(forDomain: "SHARED.example")?.name == "alpha")
        #expect(try await store.domains(of: "alpha") == ["alpha.example", "shared.example"])
        #expect(try await store.enrollment(id: first)?.status == .approved)

        let second = try await Self.enroll(store, "beta", ["beta.example", "shared.example"])
        await #expect(throws: StoreError.self) {
            try await store.approve(enrollmentID: second, organization: Self.organization("beta"), audit: Self.audit("enrollment.approved"))
        }
        #expect(try await store.organization(named: "beta") == nil)
        #expect(try await store.enrollment(id: second)?.status == .pending)
        await #expect(throws: StoreError.self) {
            try await store.addDomain("alpha.example", to: "alpha", audit: Self.audit("x")) // already alpha's: no error expected
            try await store.addDomain("shared.example", to: "beta", audit: Self.audit("x"))
        }
        try await store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test func rekeyingSupersedesTheOldCertificateAndRevocationMarksTheCurrentOne() async throws {
        let (store, directory) = try await Self.makeStore()
        let first = try await Self.enroll(store, "alpha", ["alpha.example"])
        try await store.approve(enrollmentID: first, organization: Self.organization("alpha", key: "old"), audit: Self.audit("a"))
        let second = try await Self.enroll(store, "alpha", ["alpha.example"])
        // Without replaceKey, an enrollment never replaces an existing organization's key.
        await #expect(throws: StoreError.self) {
            try await store.approve(enrollmentID: second, organization: Self.organization("alpha", key: "new"), audit: Self.audit("a"))
        }
        #expect(try await store.organization(named: "alpha")?.keySHA256 == "old")
        try await store.approve(enrollmentID: second, organization: Self.organization("alpha", key: "new"), replaceKey: true,
                                supersededReason: "superseded", audit: Self.audit("a"))
        #expect(try await store.organization(named: "alpha")?.keySHA256 == "new")
        #expect(try await store.isCertificateRevoked(sha256: "cert-alpha-old"))
        #expect(try await !store.isCertificateRevoked(sha256: "cert-alpha-new"))
        try await store.revoke(organization: "alpha", audit: Self.audit("organization.revoked"))
        #expect(try await store.organization(named: "alpha")?.status == .revoked)
        #expect(try await store.isCertificateRevoked(sha256: "cert-alpha-new"))
        try await store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test func policyDefaultsOpenAndRestrictsToAllowedSenders() async throws {
        let (store, directory) = try await Self.makeStore()
        let id = try await Self.enroll(store, "beta", ["beta.example"])
        try await store.approve(enrollmentID: id, organization: Self.organization("beta"), audit: Self.audit("a"))
        var beta = try #require(try await store.organization(named: "beta"))
        #expect(try await store.maySend(from: "alpha", to: beta))
        try await store.setRestricted(true, organization: "beta", audit: Self.audit("policy.restricted"))
        beta = try #require(try await store.organization(named: "beta"))
        #expect(try await !store.maySend(from: "alpha", to: beta))
        try await store.allowSender("alpha", to: "beta", audit: Self.audit("policy.allowed"))
        #expect(try await store.maySend(from: "alpha", to: beta))
        #expect(try await !store.maySend(from: "gamma", to: beta))
        try await store.disallowSender("alpha", to: "beta", audit: Self.audit("policy.disallowed"))
        #expect(try await !store.maySend(from: "alpha", to: beta))
        try await store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test func auditIsAppendOnly() async throws {
        let (store, directory) = try await Self.makeStore()
        try await store.appendAudit([Self.audit("one"), Self.audit("two")])
        #expect(try await store.audit(limit: 10).map(\.action) == ["one", "two"])
        await #expect(throws: StoreError.self) {
            try await store.database.query("UPDATE audit SET detail = 'changed'", [])
        }
        await #expect(throws: StoreError.self) {
            try await store.database.query("DELETE FROM audit", [])
        }
        #expect(try await store.audit(limit: 10).count == 2)
        try await store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test func badLocationsAreRefused() async throws {
        await #expect(throws: StoreError.self) {
            _ = try await SQLBrokerStore.open(location: "relative/path.db", logger: Logger(label: "test"))
        }
    }
}
