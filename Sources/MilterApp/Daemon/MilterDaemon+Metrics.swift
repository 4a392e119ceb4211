import FedMailCore
import Logging

extension MilterDaemon {
    /// Opens the `MetricsListen` listener, if configured; a listener that
    /// cannot be opened stops the start (the operator asked for it).
    static func startMetricsListener(_ configuration: MilterConfiguration, metrics: MilterMetrics,
                                     logger: Logger) throws(StartFailure) -> MetricsListener? {
        guard let listen = configuration.metricsListen else { return nil }
        do {
            let listener = try MetricsListener(listen: listen) { metrics.exposition() }
            logger.notice("metrics served at http://\(listener.localAddress)/metrics\(listen.isLoopback ? "" : " (not loopback: MetricsFromAnywhere yes)")")
            return listener
        } catch {
            throw StartFailure("\(error)", .unavailable)
        }
    }
}
