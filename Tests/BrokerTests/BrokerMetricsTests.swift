@testable import Broker
import BrokerStore
import FederationProtocol
import Testing

/// The broker's metrics: enrollments, issuance by kind, lookup latency and
/// refused authentications by reason, counted by the real service.
struct BrokerMetricsTests {
    /// The value of one series in an exposition (nil when absent).
    static func value(_ series: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func enrollmentIssuanceAndLookupsAreCounted() async throws {
        let federation = try await TokenTests.Federation.make()
        defer { Task { await federation.broker.close() } }
        _ = try await federation.token()
        _ = try await federation.token(to: "nowhere.example")
        let text = federation.broker.service.metrics.exposition()
        // Two organizations enrolled and approved in TestBroker.
        #expect(Self.value(#"fedmail_broker_enrollments_total{event="submitted"}"#, in: text) == 2)
        #expect(Self.value(#"fedmail_broker_enrollments_total{event="approved"}"#, in: text) == 2)
        #expect(Self.value(#"fedmail_broker_issued_total{kind="certificate"}"#, in: text) == 2)
        #expect(Self.value(#"fedmail_broker_issued_total{kind="token"}"#, in: text) == 1)
        #expect(Self.value(#"fedmail_broker_issued_total{kind="key-container"}"#, in: text) == 1)
        #expect(Self.value(#"fedmail_broker_issued_total{kind="address-key-container"}"#, in: text) == 0)
        #expect(Self.value("fedmail_broker_lookup_duration_seconds_count", in: text) == 2)
        // The older names stay.
        #expect(Self.value("fedmail_broker_tokens_issued_total", in: text) == 1)
        #expect(Self.value("fedmail_broker_not_federated_total", in: text) == 1)
    }

    @Test("organizations by status and pending enrollments come from the store (approvals and revocations are made by other processes)")
    func storeGauges() async throws {
        let federation = try await TokenTests.Federation.make()
        defer { Task { await federation.broker.close() } }
        let service = federation.broker.service
        await service.refreshStoreMetrics()
        var text = service.metrics.exposition()
        #expect(Self.value(#"fedmail_broker_organizations{status="active"}"#, in: text) == 2)
        #expect(Self.value(#"fedmail_broker_organizations{status="revoked"}"#, in: text) == 0)
        #expect(Self.value("fedmail_broker_enrollments_pending", in: text) == 0)
        let names = try await service.store.organizations().map(\.name).sorted()
        try await service.store.revoke(organization: try #require(names.first),
                                       audit: AuditEvent(at: 0, actor: "test", action: "organization.revoked", organization: names.first, detail: "test"))
        await service.refreshStoreMetrics()
        text = service.metrics.exposition()
        #expect(Self.value(#"fedmail_broker_organizations{status="active"}"#, in: text) == 1)
        #expect(Self.value(#"fedmail_broker_organizations{status="revoked"}"#, in: text) == 1)
    }

    @Test func refusedAuthenticationsByReason() async throws {
        let federation = try await TokenTests.Federation.make()
        defer { Task { await federation.broker.close() } }
        await #expect(throws: BrokerError.self) {
            _ = try await federation.broker.service.authenticate(peerCertificateDER: [0x30, 0x03, 0x02, 0x01, 0x01])
        }
        let text = federation.broker.service.metrics.exposition()
        #expect(Self.value(#"fedmail_broker_authentications_refused_total{reason="unreadable"}"#, in: text) == 1)
        #expect(Self.value(#"fedmail_broker_authentications_refused_total{reason="revoked"}"#, in: text) == 0)
    }

    @Test(arguments: [
        ("unreadable client certificate", "unreadable"),
        ("the client certificate names no enrolled organization", "unknown"),
        ("organization acme is revoked", "inactive"),
        ("the client certificate is revoked or no longer the organization's current key", "superseded"),
        ("the client certificate has expired", "expired"),
        ("the client certificate is revoked or superseded; fetch the current one with `fedmailctl renew`", "superseded"),
        ("the client certificate is revoked", "revoked"),
        ("something new", "other"),
    ])
    func refusalReasons(message: String, reason: String) {
        #expect(BrokerMetrics.RefusedAuthentication(message: message).rawValue == reason)
    }
}
