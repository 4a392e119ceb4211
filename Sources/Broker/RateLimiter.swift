import Hummingbird
import NIOCore
import Synchronization

/// A rate: `count` requests per `period` seconds, with bursts of up to `count`.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    public var count: Int
    public var period: Int

    public init(count: Int, period: Int) {
        self.count = count
        self.period = period
    }

    /// Parses `COUNT/PERIOD` with PERIOD one of `s`, `min`, `h` (also `sec`, `second`, `m`,
    /// `minute`, `hour`), optionally with a number (`100/10s`); COUNT 1 to 1,000,000.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let count = Int(parts[0]), (1...1_000_000).contains(count) else { return nil }
        var unit = Substring(parts[1])
        let digits = unit.prefix(while: { $0.isASCII && $0.isNumber })
        unit = unit.dropFirst(digits.count)
        let multiple = digits.isEmpty ? 1 : (Int(digits) ?? 0)
        let seconds: Int
        switch unit {
        case "s", "sec", "second": seconds = 1
        case "m", "min", "minute": seconds = 60
        case "h", "hour": seconds = 3_600
        default: return nil
        }
        guard (1...86_400).contains(multiple), multiple * seconds <= 86_400 else { return nil }
        self.init(count: count, period: multiple * seconds)
    }

    public var description: String { "\(count)/\(period)s" }
}

/// Token buckets keyed by client (source address), pure and deterministic: the
/// caller passes the time. A bucket holds up to `limit.count` tokens and gains
/// `limit.count / limit.period` per second; a request takes one token or is
/// told how many seconds to wait. Memory is bounded: past `maximumClients`
/// buckets, the ones that have refilled completely (equal to a fresh bucket)
/// are forgotten, and if that frees nothing the oldest-touched half goes.
public struct TokenBucketLimiter: Sendable {
    public let limit: RateLimit
    public let maximumClients: Int
    struct Bucket: Sendable {
        var tokens: Double
        var updated: Double
    }
    private(set) var buckets: [String: Bucket] = [:]

    public init(limit: RateLimit, maximumClients: Int = 100_000) {
        self.limit = limit
        self.maximumClients = max(1, maximumClients)
    }

    var ratePerSecond: Double { Double(limit.count) / Double(limit.period) }

    /// Takes a token for `client` at time `now` (seconds): nil when allowed, else the whole
    /// number of seconds (at least 1) until a token will be there, for `Retry-After`.
    public mutating func take(_ client: String, now: Double) -> Int? {
        let capacity = Double(limit.count)
        var bucket = buckets[client] ?? Bucket(tokens: capacity, updated: now)
        let elapsed = max(0, now - bucket.updated)
        bucket.tokens = min(capacity, bucket.tokens + elapsed * ratePerSecond)
        bucket.updated = max(bucket.updated, now)
        if bucket.tokens >= 1 {
            bucket.tokens -= 1
            store(client, bucket, now: now)
            return nil
        }
        store(client, bucket, now: now)
        let wait = (1 - bucket.tokens) / ratePerSecond
        return max(1, Int(wait.rounded(.up)))
    }

    /// How many clients have a bucket.
    public var clientCount: Int { buckets.count }

    private mutating func store(_ client: String, _ bucket: Bucket, now: Double) {
        if buckets[client] == nil && buckets.count >= maximumClients { evict(now: now) }
        buckets[client] = bucket
    }

    private mutating func evict(now: Double) {
        let capacity = Double(limit.count)
        let rate = ratePerSecond
        buckets = buckets.filter { $0.value.tokens + max(0, now - $0.value.updated) * rate < capacity }
        if buckets.count >= maximumClients {
            let keep = buckets.sorted { $0.value.updated > $1.value.updated }.prefix(maximumClients / 2)
            buckets = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}

/// Applies a ``TokenBucketLimiter`` per source address to the routes it is added to:
/// over the limit, `429 Too Many Requests` with `Retry-After` and the usual error body.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = BrokerRequestContext
    /// The buckets, shared by every copy of the middleware.
    final class SharedLimiter: Sendable {
        let mutex: Mutex<TokenBucketLimiter>
        init(_ limiter: TokenBucketLimiter) { mutex = Mutex(limiter) }
        func withLock<T>(_ body: (inout TokenBucketLimiter) -> T) -> T { mutex.withLock { body(&$0) } }
    }
    let limiter: SharedLimiter
    let metrics: BrokerMetrics

    init(limit: RateLimit, metrics: BrokerMetrics) {
        self.limiter = SharedLimiter(TokenBucketLimiter(limit: limit))
        self.metrics = metrics
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let now = Double(ContinuousClock.now.timeSinceStart)
        let key = context.sourceKey
        if let wait = limiter.withLock({ $0.take(key, now: now) }) {
            metrics.rateLimited.increment()
            return BrokerServer.errorResponse(BrokerError(.tooManyRequests, "too many requests from this address; retry in \(wait) s",
                                                          retryAfter: wait))
        }
        return try await next(request, context)
    }
}

extension ContinuousClock.Instant {
    /// Seconds since an arbitrary fixed point of this process's continuous clock.
    fileprivate var timeSinceStart: Double {
        let (seconds, attoseconds) = (self - ProcessClockOrigin.origin).components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

private enum ProcessClockOrigin {
    static let origin = ContinuousClock.now
}

extension BrokerRequestContext {
    /// The client's source for rate limits and quotas (``SourceKey``).
    public var sourceKey: String { SourceKey.of(channel.remoteAddress) }
}
