import Synchronization

/// How many recipient domains ``BrokerClient/lookup(domains:mode:useNetwork:now:)``
/// answered from its cache (memory or disk) and how many it had to ask the
/// broker for. Counted for every client of the process together
/// (``process``), so the counts keep growing across reloads that replace
/// the clients; the milter's metrics read them at scrape time.
public final class LookupCacheStatistics: Sendable {
    /// The counts of every broker client in this process.
    public static let process = LookupCacheStatistics()

    private let hits = Atomic<Int>(0)
    private let misses = Atomic<Int>(0)

    public init() {}

    /// Domains answered from the cache, and domains asked of the broker.
    public var counts: (hits: Int, misses: Int) {
        (hits.load(ordering: .relaxed), misses.load(ordering: .relaxed))
    }

    func record(hits: Int, misses: Int) {
        if hits > 0 { self.hits.add(hits, ordering: .relaxed) }
        if misses > 0 { self.misses.add(misses, ordering: .relaxed) }
    }
}
