/// The verdict of one clamd scan.
public enum ScanResult: Sendable, Hashable, CustomStringConvertible {
    /// clamd found nothing (`stream: OK`).
    case clean
    /// clamd found a signature (`stream: <signature> FOUND`).
    case infected(signature: String)
    /// No verdict: clamd unreachable, too slow, the stream too large, …
    case error(ScanError)

    /// `clean`, `infected: <signature>` or `error: <code>: <message>`.
    public var description: String {
        switch self {
        case .clean: return "clean"
        case .infected(let signature): return "infected: \(signature)"
        case .error(let error): return "error: \(error)"
        }
    }
}
