import FedMailCore
import FedMailCrypto
import Scanner
import Synchronization

/// The milter's virus scanner: clamd at `ClamdSocket`, each scan bounded
/// by `ClamdTimeout` as a whole, its verdict turned into the core's
/// ``LocalScanOutcome`` with the engine and database version clamd reports
/// (asked with `VERSION` after a scan, remembered for a few minutes so a
/// busy gateway does not ask for every message).
///
/// Shared by every connection: the clamd client opens one connection per
/// call, and the remembered version is behind a mutex.
final class MessageScanner: Sendable {
    /// How long a `VERSION` answer is reused.
    static let versionLifetime: Duration = .seconds(300)

    let client: ClamdClient
    private let version = Mutex<(engine: String, asked: ContinuousClock.Instant)?>(nil)

    /// A scanner for clamd at `address`, each scan taking at most `timeout` seconds.
    init(address: SocketSpec, timeout: Int) {
        var options = ClamdClient.Options()
        let limit = Duration.seconds(timeout)
        options.connectTimeout = min(.seconds(5), limit)
        options.writeTimeout = limit
        options.replyTimeout = limit
        options.scanTimeout = limit
        client = ClamdClient(address: address, options: options)
    }

    /// Scans a message where it is (a file, or header fields and a spooled
    /// body), streamed in chunks, never loaded whole.
    func scan(_ message: MessageInput) -> LocalScanOutcome {
        let result: ScanResult
        switch message {
        case .file(let path):
            result = client.scan(fileAt: path)
        case .parts:
            result = client.scan { stream in
                let reader = try MessageInputReader(message)
                while true {
                    let chunk = try reader.next(maxCount: 256 * 1024)
                    if chunk.isEmpty { return }
                    try stream.write(chunk)
                }
            }
        }
        switch result {
        case .clean:
            return .clean(engine: engine())
        case .infected(let signature):
            return .infected(signature: signature, engine: engine())
        case .error(let error) where error.code == .sizeLimitExceeded:
            return .tooLarge(reason: error.description)
        case .error(let error):
            return .failed(reason: error.description)
        }
    }

    /// `ClamAV 1.0.7/27400`, or `ClamAV` when clamd does not say.
    private func engine() -> String {
        let now = ContinuousClock.now
        if let known = version.withLock({ $0 }), now - known.asked < Self.versionLifetime { return known.engine }
        guard let answer = try? client.version() else { return "ClamAV" }
        let engine = answer.controlFlagEngine
        version.withLock { $0 = (engine, now) }
        return engine
    }
}
