import FedMailCore
import Testing
@testable import Broker

@Suite("abuse limits: token buckets per source")
struct RateLimiterTests {
    @Test("a burst of COUNT, then one more every PERIOD/COUNT; Retry-After says when")
    func bucket() {
        var limiter = TokenBucketLimiter(limit: RateLimit(count: 3, period: 60))
        for _ in 0..<3 { #expect(limiter.take("a", now: 0) == nil) }
        #expect(limiter.take("a", now: 0) == 20)
        #expect(limiter.take("a", now: 10) == 10)
        #expect(limiter.take("a", now: 20) == nil)
        #expect(limiter.take("a", now: 20) == 20)
        // Another source has its own bucket.
        #expect(limiter.take("b", now: 20) == nil)
        // A long pause refills to the burst size, no more.
        for _ in 0..<3 { #expect(limiter.take("a", now: 10_000) == nil) }
        #expect(limiter.take("a", now: 10_000) != nil)
        // A clock going backwards never adds tokens.
        #expect(limiter.take("a", now: 5) != nil)
    }

    @Test("memory stays bounded under many sources")
    func bounded() {
        var limiter = TokenBucketLimiter(limit: RateLimit(count: 1, period: 3_600), maximumClients: 100)
        for index in 0..<10_000 { _ = limiter.take("198.51.\(index / 256).\(index % 256)", now: Double(index) / 1000) }
        #expect(limiter.clientCount <= 100)
        // A source that is over its limit stays limited while it keeps its bucket.
        #expect(limiter.take("198.51.39.15", now: 10) != nil)
    }

    @Test("COUNT/PERIOD parsing")
    func parsing() {
        #expect(RateLimit(parsing: "30/h") == RateLimit(count: 30, period: 3_600))
        #expect(RateLimit(parsing: "120/min") == RateLimit(count: 120, period: 60))
        #expect(RateLimit(parsing: "5/s") == RateLimit(count: 5, period: 1))
        #expect(RateLimit(parsing: "100/10s") == RateLimit(count: 100, period: 10))
        for bad in ["", "30", "0/h", "-1/h", "30/d", "30/fortnight", "x/h", "30/0s", "30/48h", "30/ h"] {
            #expect(RateLimit(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test("configuration keys: defaults, values, off, and line-numbered errors")
    func configuration() throws {
        let defaults = BrokerConfiguration()
        #expect(defaults.dnsValidation && defaults.dnsResolver == nil && defaults.dnsTimeout == 5)
        #expect(defaults.enrollmentRateLimit == RateLimit(count: 30, period: 3_600))
        #expect(defaults.statusRateLimit == RateLimit(count: 120, period: 60))
        #expect(defaults.maxPendingEnrollments == 1_000 && defaults.maxPendingPerSource == 20)
        let parsed = try BrokerConfiguration(parsing: """
            DNSValidation no
            DNSResolver 127.0.0.80:5353
            DNSTimeout 2s
            EnrollmentRateLimit off
            StatusRateLimit 10/s
            MaxPendingEnrollments 0
            MaxPendingPerSource 3
            """, path: "t.conf")
        #expect(!parsed.dnsValidation && parsed.dnsResolver == DNSServerAddress(host: "127.0.0.80", port: 5353) && parsed.dnsTimeout == 2)
        #expect(parsed.enrollmentRateLimit == nil && parsed.statusRateLimit == RateLimit(count: 10, period: 1))
        #expect(parsed.maxPendingEnrollments == 0 && parsed.maxPendingPerSource == 3)
        for bad in ["DNSResolver dns.example", "DNSTimeout 0", "DNSTimeout 2m", "EnrollmentRateLimit lots", "MaxPendingPerSource -1"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try BrokerConfiguration(parsing: "\n" + bad, path: "t.conf") }
        }
    }
}
