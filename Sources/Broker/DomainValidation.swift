import BrokerStore
import Crypto
import FederationProtocol
import Foundation
import Synchronization

/// Domain control validation at enrollment, in the style of ACME dns-01
/// (RFC 8555 §8.4). Each pending enrollment has a random 128-bit token; the
/// organization publishes, per domain,
///
///     _fedmail-challenge.<domain>. TXT "<base64url(SHA-256(token "." key-sha256 "." domain))>"
///
/// The value binds the enrollment (token), the key it asks to certify
/// (SHA-256 of the CSR's SubjectPublicKeyInfo) and the domain: a record
/// published for another enrollment, another key or another domain never
/// validates this one. The broker looks the records up through its configured
/// resolver (`DNSResolver`), on `fedmail-broker org validate`, at
/// `org approve`, and when the applicant polls `GET /v1/enrollments/{id}`
/// (at most every ``DomainChallenges/pollInterval``). Lookups fail closed:
/// no answer is never "validated".
public enum DomainChallenges {
    /// The owner label of the challenge records.
    public static let label = "_fedmail-challenge"
    /// The shortest time between two automatic checks of one enrollment.
    public static let pollInterval: Duration = .seconds(5)
    /// How many domains are looked up at once.
    static let parallelLookups = 8

    /// `_fedmail-challenge.<domain>`.
    public static func recordName(_ domain: String) -> String { "\(label).\(domain)" }

    /// base64url(SHA-256(token "." keySHA256 "." domain)), 43 characters.
    public static func value(token: String, keySHA256: String, domain: String) -> String {
        Base64URL.encode(Data(SHA256.hash(data: Data("\(token).\(keySHA256).\(domain)".utf8))))
    }

    /// The challenges of `enrollment`, nil when it has no token (submitted before validation existed).
    public static func challenges(for enrollment: Enrollment) -> [DomainChallenge]? {
        guard let token = enrollment.challengeToken else { return nil }
        return enrollment.domains.map { domain in
            DomainChallenge(domain: domain, name: recordName(domain),
                            value: value(token: token, keySHA256: enrollment.keySHA256, domain: domain),
                            validated: enrollment.validatedDomains.contains(domain))
        }
    }
}

/// The outcome of checking one domain's challenge record.
public struct DomainValidationResult: Sendable, Hashable {
    public var domain: String
    public var validated: Bool
    /// What was found, in words.
    public var detail: String
}

/// Remembers when each enrollment was last checked automatically, so polling
/// cannot make the broker query DNS more often than once per interval.
final class ValidationThrottle: Sendable {
    private let last = Mutex<[String: ContinuousClock.Instant]>([:])
    static let maximumEntries = 10_000

    /// Whether `id` may be checked now (and if so, records the check).
    func admit(_ id: String, interval: Duration, now: ContinuousClock.Instant = .now) -> Bool {
        last.withLock { table in
            if let previous = table[id], now - previous < interval { return false }
            if table.count >= Self.maximumEntries { table = table.filter { now - $0.value < interval } }
            if table.count >= Self.maximumEntries { return false }
            table[id] = now
            return true
        }
    }
}

extension BrokerService {
    /// The status clients see: a pending enrollment whose domains are not all validated
    /// (while the broker validates) is `pending-dns`.
    func clientStatus(_ enrollment: Enrollment) -> String {
        guard enrollment.status == .pending, configuration.dnsValidation else { return enrollment.status.rawValue }
        return Set(enrollment.domains).isSubset(of: enrollment.validatedDomains) ? "pending" : "pending-dns"
    }

    /// The answer for `enrollment`, with its challenges while it is pending and validation is on.
    func response(for enrollment: Enrollment) -> EnrollmentResponse {
        let pending = (enrollment.status == .pending || enrollment.status == .keyReplacement) && configuration.dnsValidation
        return EnrollmentResponse(id: enrollment.id, organization: enrollment.organization, domains: enrollment.domains,
                                  status: clientStatus(enrollment), certificate: enrollment.certificatePEM, reason: enrollment.reason,
                                  challenges: pending ? DomainChallenges.challenges(for: enrollment) : nil)
    }

    /// Refuses a new enrollment when too many are pending, overall or from `source`.
    func checkPendingQuota(source: String?) async throws {
        let overall = configuration.maxPendingEnrollments
        if overall > 0, try await store.pendingEnrollmentCount(source: nil) >= overall {
            metrics.rateLimited.increment()
            throw BrokerError(.tooManyRequests, "the broker has too many enrollments waiting for a decision; retry later", retryAfter: 3_600)
        }
        let perSource = configuration.maxPendingPerSource
        if perSource > 0, let source, try await store.pendingEnrollmentCount(source: source) >= perSource {
            metrics.rateLimited.increment()
            throw BrokerError(.tooManyRequests, "this address has \(perSource) enrollments waiting for a decision; retry later", retryAfter: 3_600)
        }
    }

    /// Looks up the challenge record of every domain of a pending enrollment not yet validated,
    /// records those found (audited `enrollment.dns-validated`) and returns one result per domain.
    public func validateDomains(enrollmentID: String, actor: String = "operator") async throws -> [DomainValidationResult] {
        guard let enrollment = try await store.enrollment(id: enrollmentID) else {
            throw BrokerError(.notFound, "no enrollment \(enrollmentID)")
        }
        guard enrollment.status == .pending || enrollment.status == .keyReplacement else {
            throw BrokerError(.conflict, "enrollment \(enrollmentID) is \(enrollment.status.rawValue), not pending")
        }
        return try await validate(enrollment, actor: actor).results
    }

    /// The checks themselves; returns the enrollment as stored afterwards.
    func validate(_ enrollment: Enrollment, actor: String) async throws -> (enrollment: Enrollment, results: [DomainValidationResult]) {
        guard let challenges = DomainChallenges.challenges(for: enrollment) else {
            let results = enrollment.domains.map {
                DomainValidationResult(domain: $0, validated: false,
                                       detail: "enrollment predates DNS validation (no challenge); approve with --skip-dns-validation or enroll again")
            }
            return (enrollment, results)
        }
        let lookup = txtLookup
        var results: [DomainValidationResult] = []
        var start = 0
        while start < challenges.count {
            let batch = challenges[start..<min(start + DomainChallenges.parallelLookups, challenges.count)]
            start += batch.count
            results += try await withThrowingTaskGroup(of: DomainValidationResult.self) { group in
                for challenge in batch {
                    if challenge.validated {
                        group.addTask { DomainValidationResult(domain: challenge.domain, validated: true, detail: "validated earlier") }
                        continue
                    }
                    group.addTask { await Self.check(challenge, lookup) }
                }
                var collected: [DomainValidationResult] = []
                for try await result in group { collected.append(result) }
                return collected
            }
        }
        results.sort { (enrollment.domains.firstIndex(of: $0.domain) ?? 0) < (enrollment.domains.firstIndex(of: $1.domain) ?? 0) }
        let newly = results.filter { $0.validated && !enrollment.validatedDomains.contains($0.domain) }.map(\.domain)
        var updated = enrollment
        if !newly.isEmpty {
            updated.validatedDomains = enrollment.validatedDomains + newly
            let now = Self.now()
            let events = newly.map {
                AuditEvent(at: now, actor: actor, action: "enrollment.dns-validated", organization: enrollment.organization,
                           detail: "id=\(enrollment.id) domain=\($0) record=\(DomainChallenges.recordName($0))")
            }
            do {
                try await store.setValidatedDomains(updated.validatedDomains, enrollmentID: enrollment.id, audit: events)
            } catch let error as StoreError where error.code == .conflict {
                throw BrokerError(.conflict, error.message)
            }
            for event in events { log(event) }
        }
        return (updated, results)
    }

    static func check(_ challenge: DomainChallenge, _ lookup: any TXTLookup) async -> DomainValidationResult {
        do {
            let texts = try await lookup.txtRecords(challenge.name)
            if texts.contains(challenge.value) {
                return DomainValidationResult(domain: challenge.domain, validated: true, detail: "TXT record found at \(challenge.name)")
            }
            if texts.isEmpty {
                return DomainValidationResult(domain: challenge.domain, validated: false, detail: "no TXT record at \(challenge.name)")
            }
            return DomainValidationResult(domain: challenge.domain, validated: false,
                                          detail: "\(texts.count) TXT record(s) at \(challenge.name), none with this enrollment's value")
        } catch {
            return DomainValidationResult(domain: challenge.domain, validated: false, detail: "DNS lookup failed: \(error)")
        }
    }

    /// For `GET /v1/enrollments/{id}`: checks the records of a `pending-dns` enrollment when the
    /// last automatic check is at least ``DomainChallenges/pollInterval`` old; never throws for DNS.
    func validateIfDue(_ enrollment: Enrollment) async -> Enrollment {
        guard clientStatus(enrollment) == "pending-dns", enrollment.challengeToken != nil,
              validationThrottle.admit(enrollment.id, interval: DomainChallenges.pollInterval) else { return enrollment }
        do {
            return try await validate(enrollment, actor: "broker").enrollment
        } catch {
            logger.warning("automatic DNS validation failed", metadata: ["enrollment": "\(enrollment.id)", "error": "\(error)"])
            return enrollment
        }
    }

    /// At approval: `dns=validated` when every domain's record has been seen (looking again for
    /// the ones not seen yet), `dns=skipped` when the operator said so, `dns=off` when validation
    /// is switched off; otherwise refuses, naming each domain and what was found.
    func dnsApprovalMark(_ enrollment: Enrollment, skip: Bool, actor: String) async throws -> String {
        if skip { return "skipped" }
        guard configuration.dnsValidation else { return "off" }
        var results: [DomainValidationResult] = []
        if !Set(enrollment.domains).isSubset(of: enrollment.validatedDomains) {
            results = try await validate(enrollment, actor: actor).results
        } else {
            return "validated"
        }
        let missing = results.filter { !$0.validated }
        guard missing.isEmpty else {
            throw BrokerError(.conflict, "enrollment \(enrollment.id) has domains without a validated DNS challenge: "
                + missing.map { "\($0.domain) (\($0.detail))" }.joined(separator: "; ")
                + ". Publish the records the applicant was given, or approve with --skip-dns-validation (audited)")
        }
        return "validated"
    }
}
