import BrokerStore
import FedMailCore
import Foundation
import Logging

/// Starting the broker's pieces from a configuration file, for the `fedmail-broker` commands.
public enum BrokerRuntime {
    /// Bootstraps logging once: lines on standard error, at the configured level.
    public static func makeLogger(level: Logger.Level) -> Logger {
        LoggingBootstrapState.bootstrapOnce()
        var logger = Logger(label: "fedmail-broker")
        logger.logLevel = level
        return logger
    }

    /// Opens the store (running migrations), loads the CA and builds the service.
    public static func makeService(configuration: BrokerConfiguration, logger: Logger) async throws -> BrokerService {
        umask(mode_t(configuration.umask))
        let authority = try CertificateAuthority.load(from: configuration.stateDirectory)
        let store = try await SQLBrokerStore.open(location: configuration.database, logger: logger)
        do {
            try await store.migrate()
        } catch {
            try? await store.close()
            throw error
        }
        return try await BrokerService(store: store, authority: authority, configuration: configuration, logger: logger)
    }
}

enum LoggingBootstrapState {
    static let once: Void = {
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
    }()

    static func bootstrapOnce() { _ = once }
}
