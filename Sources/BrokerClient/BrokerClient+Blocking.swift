import Dispatch
import Foundation

extension BrokerClient {
    /// `lookup` for callers on threads outside Swift concurrency (libmilter's callback
    /// threads): starts the lookup and waits at most `timeout`. On timeout the lookup is
    /// cancelled and ``BrokerClientError/Code/unavailable`` is thrown, so the caller can
    /// apply its `On-BrokerUnavailable` action well within the MTA's milter timeout.
    ///
    /// Never call it from an async context or an event loop thread: it blocks the thread.
    public nonisolated func lookupBlocking(domains: [String], mode: FederationMode = .direct,
                                           timeout: Duration = .seconds(10)) throws -> [String: ValidatedLookup] {
        let box = ResultBox()
        let semaphore = DispatchSemaphore(value: 0)
        let task = Task {
            do {
                box.set(.success(try await self.lookup(domains: domains, mode: mode)))
            } catch {
                box.set(.failure(error))
            }
            semaphore.signal()
        }
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        guard semaphore.wait(timeout: .now() + .nanoseconds(Int(nanoseconds))) == .success else {
            task.cancel()
            throw BrokerClientError(.unavailable, "broker lookup did not finish within \(timeout)")
        }
        guard let result = box.get() else {
            throw BrokerClientError(.unavailable, "broker lookup ended without a result")
        }
        return try result.get()
    }
}

/// A result handed from the lookup task to the waiting thread.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<[String: ValidatedLookup], any Error>?

    func set(_ result: Result<[String: ValidatedLookup], any Error>) {
        lock.lock()
        value = result
        lock.unlock()
    }

    func get() -> Result<[String: ValidatedLookup], any Error>? {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
