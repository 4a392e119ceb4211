import BrokerStore
import FederationProtocol
import Foundation
import Synchronization
import Testing
@testable import Broker

/// TEST DOUBLE of DNS: a zone of TXT records the test edits; names listed in `failing` time out.
final class FakeZone: TXTLookup {
    let records = Mutex<[String: [String]]>([:])
    let failing = Mutex<Set<String>>([])
    let queries = Mutex<Int>(0)

    func publish(_ name: String, _ value: String) { records.withLock { $0[name, default: []].append(value) } }

    func txtRecords(_ name: String) async throws -> [String] {
        queries.withLock { $0 += 1 }
        if failing.withLock({ $0.contains(name) }) { throw DNSLookupError("timed out") }
        return records.withLock { $0[name] ?? [] }
    }
}

@Suite("domain control validation at enrollment (dns-01 style)")
struct DomainValidationTests {
    static func make(_ zone: FakeZone, adjust: (inout BrokerConfiguration) -> Void = { _ in }) async throws -> (TestBroker, BrokerService) {
        let broker = try await TestBroker.make(dnsValidation: true, adjust: adjust)
        var service = broker.service
        service.txtLookup = zone
        return (broker, service)
    }

    static func submit(_ service: BrokerService, _ org: String, _ domains: [String], source: String? = nil) async throws -> EnrollmentResponse {
        let csr = try CSRBuilder.makeCSR(privateKeyPEM: TestKeys.p256().1, organization: org)
        return try await service.submitEnrollment(EnrollmentRequest(organization: org, domains: domains, csr: csr), source: source)
    }

    @Test("the challenge value binds the token, the key and the domain")
    func valueBinding() {
        let value = DomainChallenges.value(token: "t", keySHA256: "k", domain: "a.example")
        #expect(value.count == 43)
        #expect(value != DomainChallenges.value(token: "t2", keySHA256: "k", domain: "a.example"))
        #expect(value != DomainChallenges.value(token: "t", keySHA256: "k2", domain: "a.example"))
        #expect(value != DomainChallenges.value(token: "t", keySHA256: "k", domain: "b.example"))
        #expect(DomainChallenges.recordName("a.example") == "_fedmail-challenge.a.example")
    }

    @Test("submission answers one challenge per domain and status pending-dns; approve is refused without the records")
    func pendingUntilPublished() async throws {
        let zone = FakeZone()
        let (broker, service) = try await Self.make(zone)
        defer { Task { await broker.close() } }
        let state = try await Self.submit(service, "alpha", ["alpha.example", "mail.alpha.example"])
        #expect(state.status == "pending-dns")
        let challenges = try #require(state.challenges)
        #expect(challenges.map(\.name) == ["_fedmail-challenge.alpha.example", "_fedmail-challenge.mail.alpha.example"])
        #expect(Set(challenges.map(\.value)).count == 2)
        await #expect(throws: BrokerError.self) { _ = try await service.approve(enrollmentID: state.id) }

        // One of two published: still pending-dns, approve still refused, naming the missing domain.
        zone.publish(challenges[0].name, challenges[0].value)
        let results = try await service.validateDomains(enrollmentID: state.id)
        #expect(results.map(\.validated) == [true, false])
        do {
            _ = try await service.approve(enrollmentID: state.id)
            Issue.record("approved with a domain missing")
        } catch let error as BrokerError {
            #expect(error.code == .conflict)
            #expect(error.message.contains("mail.alpha.example (no TXT record at _fedmail-challenge.mail.alpha.example)"))
        }
        // Both published: the poll sees it (pending), approve records dns=validated.
        zone.publish(challenges[1].name, challenges[1].value)
        #expect(try await service.enrollmentStatus(id: state.id).status == "pending")
        _ = try await service.approve(enrollmentID: state.id)
        let approved = try #require(try await service.store.audit(limit: 10).last { $0.action == "enrollment.approved" })
        #expect(approved.detail.hasSuffix("dns=validated"))
        #expect(try await service.store.audit(limit: 20).filter { $0.action == "enrollment.dns-validated" }.count == 2)
        #expect(try await service.enrollmentStatus(id: state.id).challenges == nil)
    }

    @Test("a wrong value, a value published for another domain or another enrollment, and a failed lookup do not validate")
    func wrongRecords() async throws {
        let zone = FakeZone()
        let (broker, service) = try await Self.make(zone)
        defer { Task { await broker.close() } }
        let state = try await Self.submit(service, "beta", ["beta.example", "other.example", "third.example", "slow.example"])
        let other = try await Self.submit(service, "beta", ["beta.example"])
        let challenges = try #require(state.challenges)
        zone.publish(challenges[0].name, "not-the-value")
        zone.publish(challenges[0].name, try #require(other.challenges)[0].value)  // another enrollment (other key) for the same domain
        zone.publish(challenges[1].name, challenges[2].value)  // the value of third.example at other.example
        zone.publish(challenges[2].name, challenges[1].value)
        zone.failing.withLock { $0.insert(challenges[3].name) }
        let results = try await service.validateDomains(enrollmentID: state.id)
        #expect(results.allSatisfy { !$0.validated })
        #expect(results[0].detail.contains("none with this enrollment's value"))
        #expect(results[3].detail.contains("DNS lookup failed"))
        await #expect(throws: BrokerError.self) { _ = try await service.approve(enrollmentID: state.id) }
        #expect(try await service.enrollmentStatus(id: state.id).status == "pending-dns")
    }

    @Test("--skip-dns-validation approves without records and the audit says dns=skipped")
    func skip() async throws {
        let zone = FakeZone()
        let (broker, service) = try await Self.make(zone)
        defer { Task { await broker.close() } }
        let state = try await Self.submit(service, "gamma", ["gamma.example"])
        _ = try await service.approve(enrollmentID: state.id, skipDNSValidation: true)
        let approved = try #require(try await service.store.audit(limit: 10).last { $0.action == "enrollment.approved" })
        #expect(approved.detail.hasSuffix("dns=skipped"))
        // The domain is now owned: another organization cannot enroll it (409).
        do {
            _ = try await Self.submit(service, "delta", ["gamma.example"])
            Issue.record("enrolled another organization's domain")
        } catch let error as BrokerError {
            #expect(error.code.httpStatus == 409)
        }
    }

    @Test("polling checks DNS at most every pollInterval")
    func pollThrottle() async throws {
        let zone = FakeZone()
        let (broker, service) = try await Self.make(zone)
        defer { Task { await broker.close() } }
        let state = try await Self.submit(service, "eps", ["eps.example"])
        for _ in 0..<5 { _ = try await service.enrollmentStatus(id: state.id) }
        #expect(zone.queries.withLock { $0 } == 1)
    }

    @Test("pending-enrollment quota per source and overall: 429 with Retry-After")
    func quota() async throws {
        let zone = FakeZone()
        let (broker, service) = try await Self.make(zone) { $0.maxPendingPerSource = 2; $0.maxPendingEnrollments = 3 }
        defer { Task { await broker.close() } }
        _ = try await Self.submit(service, "q1", ["q1.example"], source: "192.0.2.1")
        _ = try await Self.submit(service, "q2", ["q2.example"], source: "192.0.2.1")
        do {
            _ = try await Self.submit(service, "q3", ["q3.example"], source: "192.0.2.1")
            Issue.record("per-source quota not applied")
        } catch let error as BrokerError {
            #expect(error.code.httpStatus == 429 && error.retryAfter != nil)
        }
        _ = try await Self.submit(service, "q4", ["q4.example"], source: "192.0.2.2")
        await #expect(throws: BrokerError.self) { _ = try await Self.submit(service, "q5", ["q5.example"], source: "192.0.2.3") }
    }

    @Test("with DNSValidation no, enrollments are plain pending without challenges")
    func switchedOff() async throws {
        let broker = try await TestBroker.make(dnsValidation: false)
        defer { Task { await broker.close() } }
        let state = try await Self.submit(broker.service, "zeta", ["zeta.example"])
        #expect(state.status == "pending" && state.challenges == nil)
        _ = try await broker.service.approve(enrollmentID: state.id)
        let approved = try #require(try await broker.service.store.audit(limit: 10).last { $0.action == "enrollment.approved" })
        #expect(approved.detail.hasSuffix("dns=off"))
    }

    @Test("resolver addresses and resolv.conf")
    func resolverAddresses() {
        #expect(DNSServerAddress(parsing: "127.0.0.1:5353") == DNSServerAddress(host: "127.0.0.1", port: 5353))
        #expect(DNSServerAddress(parsing: "192.0.2.53") == DNSServerAddress(host: "192.0.2.53", port: 53))
        #expect(DNSServerAddress(parsing: "[::1]:53") == DNSServerAddress(host: "::1", port: 53))
        #expect(DNSServerAddress(parsing: "::1") == DNSServerAddress(host: "::1", port: 53))
        #expect(DNSServerAddress(parsing: "dns.example:53") == nil)
        #expect(DNSServerAddress(parsing: "127.0.0.1:0") == nil)
        #expect(DNSServerAddress.firstNameserver(resolvConf: "# x\nsearch example\nnameserver fe80::1%eth0\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n")
                == DNSServerAddress(host: "10.0.0.2", port: 53))
        #expect(DNSServerAddress.firstNameserver(resolvConf: "options ndots:1\n") == nil)
    }
}
