import BrokerStore
import Prometheus

/// The broker's Prometheus metrics, served at `GET /metrics`.
public struct BrokerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let requests: Counter
    let errors: Counter
    let tokensIssued: Counter
    let tokensDenied: Counter
    let notFederated: Counter
    let rateLimited: Counter
    let certificatesRenewed: Counter
    let latency: DurationHistogram
    /// Token requests answered (`POST /v1/tokens`, a batch of domains each).
    let lookupDuration: DurationHistogram

    public init() {
        requests = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "requests", unitName: "total", helpText: "HTTP requests answered"))
        errors = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "errors", unitName: "total", helpText: "HTTP requests answered with an error status"))
        tokensIssued = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "tokens_issued", unitName: "total", helpText: "Federation tokens issued"))
        tokensDenied = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "tokens_denied", unitName: "total", helpText: "Token requests denied by policy"))
        notFederated = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "not_federated", unitName: "total", helpText: "Token requests for domains that are not federated"))
        rateLimited = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "rate_limited", unitName: "total", helpText: "Requests refused with 429 by a rate limit or the pending-enrollment quota"))
        certificatesRenewed = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "certificates_renewed", unitName: "total", helpText: "Organization certificates renewed or rekeyed over mutual TLS"))
        latency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "request_duration", unitName: "seconds", helpText: "HTTP request latency"),
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)])
        lookupDuration = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "lookup_duration", unitName: "seconds",
                                             helpText: "Token lookups answered (one batch of recipient domains each)"),
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)])
        // The bounded label values exist from the start (at 0).
        for event in EnrollmentEvent.allCases { _ = enrollments(event) }
        for kind in IssuedKind.allCases { _ = issued(kind) }
        for reason in RefusedAuthentication.allCases { _ = authenticationsRefused(reason) }
    }

    /// What happened to an enrollment.
    enum EnrollmentEvent: String, CaseIterable { case submitted, approved, rejected }

    /// What the broker signs and hands out.
    enum IssuedKind: String, CaseIterable {
        case token
        /// A key container for a recipient domain (with each token).
        case keyContainer = "key-container"
        /// A key container for one address (external S/MIME clients).
        case addressKeyContainer = "address-key-container"
        /// An organization certificate (approval, renewal, rekey, reissue).
        case certificate
    }

    /// Why a client certificate was refused.
    enum RefusedAuthentication: String, CaseIterable {
        case unreadable, unknown, inactive, revoked, superseded, expired, other

        /// The reason a refusal's message states.
        init(message: String) {
            if message.contains("unreadable") { self = .unreadable }
            else if message.contains("names no enrolled") { self = .unknown }
            else if message.contains("organization") && message.contains("is revoked") && !message.contains("certificate") { self = .inactive }
            else if message.contains("expired") { self = .expired }
            else if message.contains("superseded") || message.contains("no longer the organization's current key") { self = .superseded }
            else if message.contains("revoked") { self = .revoked }
            else { self = .other }
        }
    }

    func enrollments(_ event: EnrollmentEvent) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "enrollments", unitName: "total",
                                                              helpText: "Enrollments submitted, approved or rejected by this process"),
                             labels: [("event", event.rawValue)])
    }

    func issued(_ kind: IssuedKind) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "issued", unitName: "total",
                                                              helpText: "Tokens, key containers and organization certificates issued, by kind"),
                             labels: [("kind", kind.rawValue)])
    }

    func authenticationsRefused(_ reason: RefusedAuthentication) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "authentications_refused", unitName: "total",
                                                              helpText: "Client certificates refused, by reason (unknown, inactive organization, revoked, superseded, expired)"),
                             labels: [("reason", reason.rawValue)])
    }

    /// Organizations by status and enrollments waiting for an operator, as
    /// the store holds them when scraped: approvals and revocations are
    /// made by `fedmail-broker` commands in processes of their own, so
    /// only the store sees them all.
    func recordStore(organizations: [Organization], pendingEnrollments: Int) {
        for status in [Organization.Status.active, .revoked] {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "organizations",
                                                                helpText: "Enrolled organizations in the store, by status"),
                               labels: [("status", status.rawValue)])
                .set(Double(organizations.filter { $0.status == status }.count))
        }
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "enrollments_pending",
                                                            helpText: "Enrollments waiting for an operator's approval, in the store"))
            .set(Double(pendingEnrollments))
    }

    /// The Prometheus text exposition.
    /// (Call ``BrokerService/refreshStoreMetrics()`` first for the store's gauges.)
    public func exposition() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
