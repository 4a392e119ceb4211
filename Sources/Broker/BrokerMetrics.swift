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
    let authenticationsRefused: Counter
    let certificatesRenewed: Counter
    let latency: DurationHistogram

    public init() {
        requests = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "requests", unitName: "total", helpText: "HTTP requests answered"))
        errors = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "errors", unitName: "total", helpText: "HTTP requests answered with an error status"))
        tokensIssued = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "tokens_issued", unitName: "total", helpText: "Federation tokens issued"))
        tokensDenied = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "tokens_denied", unitName: "total", helpText: "Token requests denied by policy"))
        notFederated = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "not_federated", unitName: "total", helpText: "Token requests for domains that are not federated"))
        rateLimited = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "rate_limited", unitName: "total", helpText: "Requests refused with 429 by a rate limit or the pending-enrollment quota"))
        authenticationsRefused = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "authentications_refused", unitName: "total", helpText: "Client certificates refused (unknown, revoked, superseded, expired)"))
        certificatesRenewed = registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "certificates_renewed", unitName: "total", helpText: "Organization certificates renewed or rekeyed over mutual TLS"))
        latency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "fedmail", subsystem: "broker", metricName: "request_duration", unitName: "seconds", helpText: "HTTP request latency"),
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                      .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)])
    }

    /// The Prometheus text exposition.
    public func exposition() -> String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
