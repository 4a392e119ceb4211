import BrokerClient
import Prometheus
import Synchronization

/// The milter's Prometheus metrics (`MetricsListen`), in the registry the
/// broker uses too (swift-prometheus). One instance per daemon, shared by
/// every libmilter thread: each update is an atomic add or a short lock in
/// the registry, never I/O. Labels come from fixed sets only
/// (``MessageOutcome``): never an address or a domain.
public final class MilterMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    /// Latency buckets for message work (seal, open): 5 ms to 30 s.
    static let messageBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]
    /// Latency buckets for a broker lookup or a clamd scan: 1 ms to 30 s.
    static let callBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30),
    ]

    let sealDuration: DurationHistogram
    let openDuration: DurationHistogram
    let cacheHits: Counter
    let cacheMisses: Counter
    let spoolBytes: Gauge
    let inDoubtCopies: Gauge
    let inDoubtBytes: Gauge
    /// The store of sealed copies whose re-injection is in doubt (a sealing milter's).
    private let inDoubt = Mutex<InDoubtSealedCopies?>(nil)
    /// The directories whose files count as spool bytes in use.
    private let spoolDirectories: Mutex<[String]>
    /// Broker cache counts already added to the counters (they are read
    /// from the broker clients at scrape time).
    private let cacheExported = Mutex<(hits: Int, misses: Int)>((0, 0))
    /// Where the broker cache counts come from (the process's broker clients).
    private let cacheStatistics: LookupCacheStatistics
    /// The message counter of each outcome seen (labels from fixed sets, so
    /// bounded): counting a message is a lookup here, not a registry call
    /// that builds the metric's name and labels again.
    private let messageCounters = Mutex<[MessageOutcome: Counter]>([:])

    public init(cacheStatistics: LookupCacheStatistics = .process) {
        self.cacheStatistics = cacheStatistics
        spoolDirectories = Mutex([])
        sealDuration = registry.makeDurationHistogram(
            descriptor: Self.name("seal_duration", unit: "seconds",
                                  help: "End-of-message time of messages sealed (broker lookup, scan, seal; split included)"),
            buckets: Self.messageBuckets)
        openDuration = registry.makeDurationHistogram(
            descriptor: Self.name("open_duration", unit: "seconds",
                                  help: "End-of-message time of sealed messages opened and delivered (verify, decrypt, scan)"),
            buckets: Self.messageBuckets)
        cacheHits = registry.makeCounter(descriptor: Self.name("broker_cache_hits", unit: "total",
                                                               help: "Recipient domains answered from the token cache"))
        cacheMisses = registry.makeCounter(descriptor: Self.name("broker_cache_misses", unit: "total",
                                                                 help: "Recipient domains asked of the broker (not cached)"))
        spoolBytes = registry.makeGauge(descriptor: Self.name("spool", unit: "bytes",
                                                              help: "Bytes of message files in the milter's private spool directories"))
        inDoubtCopies = registry.makeGauge(descriptor: Self.name("split_in_doubt_copies", unit: "",
                                                                 help: "Sealed copies of split messages kept because their re-injection is or may be in doubt (re-sent, not sealed again, when the client retries)"))
        inDoubtBytes = registry.makeGauge(descriptor: Self.name("split_in_doubt", unit: "bytes",
                                                                help: "Bytes of the sealed copies kept in doubt (at most 1 GiB are kept)"))
        // Every known outcome without a check exists from the start (at 0),
        // so rate() and absent() work before the first message.
        for direction in ["inbound", "outbound"] {
            for decision in ["sealed", "opened", "plaintext", "untouched", "split", "discard"] {
                _ = messages(MessageOutcome(direction: direction, decision: decision))
            }
        }
        for result in ["ok", "unavailable"] { _ = brokerLookupDuration(result) }
        for verdict in ScanVerdict.allCases { _ = scans(verdict) }
        _ = scanDuration
        for result in ["ok", "failed"] { _ = reinjections(result) }
        for ledger in ["replay", "split"] { _ = duplicates(ledger) }
        for result in ["ok", "refused"] { _ = reloads(result) }
    }

    static func name(_ metric: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "fedmail", subsystem: "milter", metricName: metric, unitName: unit, helpText: help)
    }

    // MARK: families (the registry returns the existing series for known labels)

    func messages(_ outcome: MessageOutcome) -> Counter {
        if let counter = messageCounters.withLock({ $0[outcome] }) { return counter }
        let counter = registry.makeCounter(descriptor: Self.name("messages", unit: "total",
                                                   help: "Messages by direction and decision; check names the failed check of a failure action"),
                             labels: [("direction", outcome.direction), ("decision", outcome.decision), ("check", outcome.check)])
        messageCounters.withLock { $0[outcome] = counter }
        return counter
    }

    func brokerLookupDuration(_ result: String) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: Self.name("broker_lookup_duration", unit: "seconds",
                                                             help: "Broker token lookups per message (cache first), by result"),
                                       labels: [("result", result)], buckets: Self.callBuckets)
    }

    var scanDuration: DurationHistogram {
        registry.makeDurationHistogram(descriptor: Self.name("clamd_scan_duration", unit: "seconds", help: "clamd scans"),
                                       buckets: Self.callBuckets)
    }

    /// clamd's verdict on a scan.
    public enum ScanVerdict: String, Sendable, CaseIterable { case clean, infected, tooLarge = "too-large", error }

    func scans(_ verdict: ScanVerdict) -> Counter {
        registry.makeCounter(descriptor: Self.name("clamd_scans", unit: "total", help: "clamd scans by verdict"),
                             labels: [("verdict", verdict.rawValue)])
    }

    func reinjections(_ result: String) -> Counter {
        registry.makeCounter(descriptor: Self.name("reinjections", unit: "total",
                                                   help: "Sealed copies of split messages re-injected (Reinject), by result"),
                             labels: [("result", result)])
    }

    func duplicates(_ ledger: String) -> Counter {
        registry.makeCounter(descriptor: Self.name("duplicates_discarded", unit: "total",
                                                   help: "Recipients dropped as already served: replay (a seal delivered before) or split (a sealed copy re-injected before)"),
                             labels: [("ledger", ledger)])
    }

    func reloads(_ result: String) -> Counter {
        registry.makeCounter(descriptor: Self.name("config_reloads", unit: "total",
                                                   help: "Configuration reloads (SIGUSR1) by result: ok, or refused and the old configuration kept"),
                             labels: [("result", result)])
    }

    // MARK: recording

    /// Counts one message; its end-of-message time goes to the seal or open histogram.
    public func record(_ outcome: MessageOutcome, duration: Duration? = nil) {
        messages(outcome).increment()
        guard let duration else { return }
        switch outcome.decision {
        case "sealed", "split": sealDuration.record(duration)
        case "opened": openDuration.record(duration)
        default: break
        }
    }

    /// One broker lookup (every domain of a message in one request).
    public func recordBrokerLookup(duration: Duration, available: Bool) {
        brokerLookupDuration(available ? "ok" : "unavailable").record(duration)
    }

    /// One clamd scan.
    public func recordScan(duration: Duration, verdict: ScanVerdict) {
        scanDuration.record(duration)
        scans(verdict).increment()
    }

    /// One re-injection of a sealed copy.
    public func recordReinjection(succeeded: Bool) {
        reinjections(succeeded ? "ok" : "failed").increment()
    }

    /// Recipients dropped as already served.
    public func recordDuplicates(ledger: String, count: Int) {
        guard count > 0 else { return }
        duplicates(ledger == "split" ? "split" : "replay").increment(by: Int64(count))
    }

    /// One configuration reload.
    public func recordReload(succeeded: Bool) {
        reloads(succeeded ? "ok" : "refused").increment()
    }

    /// The directories counted by `fedmail_milter_spool_bytes`.
    public func setSpoolDirectories(_ paths: [String]) {
        spoolDirectories.withLock { $0 = paths }
    }

    /// The in-doubt store counted by `fedmail_milter_split_in_doubt_copies` and `_bytes`.
    public func setSplitInDoubt(_ store: InDoubtSealedCopies?) {
        inDoubt.withLock { $0 = store }
    }

    // MARK: exposition

    /// The Prometheus text exposition, with the values read at scrape time
    /// (spool bytes, copies in doubt, broker cache counts) brought up to date first.
    public func exposition() -> String {
        spoolBytes.set(Double(SpoolUsage.bytes(in: spoolDirectories.withLock { $0 })))
        if let store = inDoubt.withLock({ $0 }) {
            let usage = store.usage
            inDoubtCopies.set(Double(usage.copies))
            inDoubtBytes.set(Double(usage.bytes))
        }
        let now = cacheStatistics.counts
        cacheExported.withLock { exported in
            if now.hits > exported.hits { cacheHits.increment(by: Int64(now.hits - exported.hits)) }
            if now.misses > exported.misses { cacheMisses.increment(by: Int64(now.misses - exported.misses)) }
            exported = (max(exported.hits, now.hits), max(exported.misses, now.misses))
        }
        return registry.emitToString()
    }
}
