import BrokerStore

extension BrokerService {
    /// Reads the organizations by status and the pending enrollments from
    /// the store into the metrics (before each scrape). A store that does
    /// not answer leaves the last values.
    public func refreshStoreMetrics() async {
        guard let organizations = try? await store.organizations(),
              let pending = try? await store.pendingEnrollmentCount(source: nil) else { return }
        metrics.recordStore(organizations: organizations, pendingEnrollments: pending)
    }
}
