import FedMailCore
import Foundation
import Logging
import Synchronization

/// Fetches the broker's CRL every `CRLRefresh` on a thread of its own, for
/// the ``RevocationListCache``; reads the settings in force each round, so
/// a reload (SIGUSR1) changes the interval and the broker without losing
/// the list. A failed fetch keeps the list in force (until it is older
/// than `CRLMaxAge`, when the policy tempfails broker-signed mail).
public final class RevocationListRefresher: Sendable {
    let cache: RevocationListCache
    let federation: FederationRuntimeStore
    let logger: Logger
    private let stopping = Atomic<Bool>(false)

    public init(cache: RevocationListCache, federation: FederationRuntimeStore, logger: Logger) {
        self.cache = cache
        self.federation = federation
        self.logger = logger
    }

    /// Starts the refresh thread (after any fork).
    public func start() {
        let thread = Thread { [self] in
            while !stopping.load(ordering: .relaxed) {
                refreshOnce()
                let interval = max(1, federation.current.settings.crlRefresh)
                for _ in 0..<interval where !stopping.load(ordering: .relaxed) {
                    Thread.sleep(forTimeInterval: 1)
                }
            }
        }
        thread.name = "fedmail-crl"
        thread.start()
    }

    /// Asks the thread to end (at exit; it ends within a second or a fetch timeout).
    public func stop() {
        stopping.store(true, ordering: .relaxed)
    }

    /// One fetch: a verified newer list is installed and written to disk.
    public func refreshOnce() {
        let runtime = federation.current
        guard let brokers = runtime.brokers, runtime.settings.brokerCAPath != nil else { return }
        do {
            let (list, der) = try brokers.revocationList(timeout: runtime.settings.brokerTimeout)
            let previous = cache.current
            guard cache.install(list) else { return }
            cache.saveToDisk(der, logger: logger)
            if previous?.entries != list.entries {
                logger.notice("CRL from the broker: issued \(RFC3339.format(secondsSince1970: list.thisUpdate)), number \(list.number.map { "\($0)" } ?? "-"), \(list.entries.count) revoked certificate(s)")
            } else {
                logger.debug("CRL refreshed: issued \(RFC3339.format(secondsSince1970: list.thisUpdate))")
            }
        } catch {
            if cache.recordFailure("\(error)") {
                logger.warning("cannot refresh the CRL from the broker (keeping the one in force, if any): \(error)")
            }
        }
    }
}
