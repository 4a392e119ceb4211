import FedMailCore
import FedMailCrypto
import Milter

/// Where the handler's work is measured for ``MilterMetrics``: each message
/// once at its end (the decision its log states), broker lookups and clamd
/// scans as they are made.
extension FederationHandler {
    /// Counts a finished message (decided at end of message or end of headers).
    func countMessage(_ recorder: MessageOutcomeRecorder, startedAt start: ContinuousClock.Instant) {
        guard let metrics, let outcome = recorder.current else { return }
        metrics.record(outcome, duration: ContinuousClock.now - start)
    }

    /// ``lookUp(_:)``, timed when a broker is asked (not for static partners only).
    func measuredLookUp(_ domains: [DomainName]) -> [DomainName: DomainLookup] {
        let start = ContinuousClock.now
        let lookups = lookUp(domains)
        let brokered = lookups.values.filter { !$0.isStaticPartner }
        if let metrics, !brokered.isEmpty {
            let available = !brokered.contains { if case .unavailable = $0.federation { return true } else { return false } }
            metrics.recordBrokerLookup(duration: ContinuousClock.now - start, available: available)
        }
        return lookups
    }

    /// A clamd scan, timed and counted by verdict.
    func measuredScan(_ scanner: MessageScanner, _ message: MessageInput) -> LocalScanOutcome {
        let start = ContinuousClock.now
        let outcome = scanner.scan(message)
        if let metrics {
            let verdict: MilterMetrics.ScanVerdict
            switch outcome {
            case .clean: verdict = .clean
            case .infected: verdict = .infected
            case .tooLarge: verdict = .tooLarge
            case .failed: verdict = .error
            }
            metrics.recordScan(duration: ContinuousClock.now - start, verdict: verdict)
        }
        return outcome
    }
}
