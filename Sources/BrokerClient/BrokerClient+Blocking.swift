import FedMailCore
import FederationProtocol
import Dispatch
import Foundation

/// Runs async work for a caller on a thread outside Swift concurrency
/// (libmilter's callback threads, a synchronous command), waiting at most
/// `timeout`. On timeout the work is cancelled and
/// ``BrokerClientError/Code/unavailable`` is thrown, so the caller can apply
/// its failure action well within the MTA's milter timeout.
///
/// Never call it from an async context or an event loop thread: it blocks the thread.
public enum BlockingTask {
    public static func run<T: Sendable>(timeout: Duration, what: String,
                                        _ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let semaphore = DispatchSemaphore(value: 0)
        let task = Task {
            do { box.set(.success(try await operation())) } catch { box.set(.failure(error)) }
            semaphore.signal()
        }
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        guard semaphore.wait(timeout: .now() + .nanoseconds(Int(nanoseconds))) == .success else {
            task.cancel()
            throw BrokerClientError(.unavailable, "\(what) did not finish within \(timeout)")
        }
        guard let result = box.get() else {
            throw BrokerClientError(.unavailable, "\(what) ended without a result")
        }
        return try result.get()
    }
}

extension BrokerClient {
    /// `lookup` for callers on threads outside Swift concurrency (see ``BlockingTask``).
    public nonisolated func lookupBlocking(domains: [String], mode: FederationMode = .direct,
                                           timeout: Duration = .seconds(10)) throws -> [String: ValidatedLookup] {
        try BlockingTask.run(timeout: timeout, what: "broker lookup") {
            try await self.lookup(domains: domains, mode: mode)
        }
    }
}

extension TokenVerifier {
    /// Verifies a token's signature and chain against the pinned broker CA,
    /// its issuer, purpose and audience at `time` (the message's signing
    /// time), for a caller outside Swift concurrency; returns the claims the
    /// ``OpeningPolicy`` holds against the message.
    public func verifyBlocking(_ token: String, audience: String, at time: Date,
                               timeout: Duration = .seconds(10)) throws -> VerifiedTokenClaims {
        let claims = try BlockingTask.run(timeout: timeout, what: "token verification") {
            try await BrokerClientError.validating { try await self.verify(token, audience: audience, now: time) }
        }
        return VerifiedTokenClaims(aud: claims.aud, purpose: claims.purpose, sub: claims.sub, sdom: claims.sdom,
                                   scf: claims.scf, iat: claims.iat, nbf: claims.nbf, exp: claims.exp, jti: claims.jti)
    }
}

/// A result handed from the task to the waiting thread.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, any Error>?

    func set(_ result: Result<T, any Error>) {
        lock.lock()
        value = result
        lock.unlock()
    }

    func get() -> Result<T, any Error>? {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
